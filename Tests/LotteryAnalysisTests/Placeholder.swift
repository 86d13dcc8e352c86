import Testing

@Test func placeholderLotteryAnalysisTests() { #expect(Bool(true)) }
