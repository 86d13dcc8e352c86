// LotteryWorker: placeholder until its issue lands.
enum LotteryWorkerPlaceholder {}
