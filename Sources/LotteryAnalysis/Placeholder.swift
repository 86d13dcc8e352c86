// LotteryAnalysis: placeholder until its issue lands.
enum LotteryAnalysisPlaceholder {}
