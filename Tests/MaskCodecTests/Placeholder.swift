import Testing

@Test func placeholderMaskCodecTests() { #expect(Bool(true)) }
