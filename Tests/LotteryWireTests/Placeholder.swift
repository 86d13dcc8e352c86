import Testing

@Test func placeholderLotteryWireTests() { #expect(Bool(true)) }
