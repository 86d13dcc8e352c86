// LotteryCoordinator: placeholder until its issue lands.
enum LotteryCoordinatorPlaceholder {}
