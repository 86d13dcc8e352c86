import Testing

@Test func placeholderLotteryCoordinatorTests() { #expect(Bool(true)) }
