import Testing

@Test func placeholderLotteryCoreTests() { #expect(Bool(true)) }
