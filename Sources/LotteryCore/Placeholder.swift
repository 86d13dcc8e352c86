// LotteryCore: placeholder until its issue lands.
enum LotteryCorePlaceholder {}
