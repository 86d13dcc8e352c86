// LotteryWire: placeholder until its issue lands.
enum LotteryWirePlaceholder {}
