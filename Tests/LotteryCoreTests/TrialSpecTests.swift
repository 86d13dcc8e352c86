import Foundation
import LotteryCore
import Testing

@Suite("Trial spec keys, validation and ids")
struct TrialSpecTests {
    @Test func sha256KnownAnswers() {
        #expect(
            SHA256.hexDigest(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hexDigest([UInt8]()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        let long = Array(String(repeating: "a", count: 1_000).utf8)
        #expect(SHA256.hexDigest(long) == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
        var incremental = SHA256()
        for chunk in stride(from: 0, to: long.count, by: 37) {
            incremental.update(long[chunk..<min(chunk + 37, long.count)])
        }
        #expect(SHA256.hex(incremental.finalize()) == SHA256.hexDigest(long))
    }

    @Test func defaultsAreThePapers() {
        let spec = TrialSpec()
        #expect(spec.model.layers == [300, 100])
        #expect(spec.resolvedRates == [0.2, 0.2, 0.1])
        #expect(spec.train.lr == 1.2e-3 && spec.train.batch == 60 && spec.train.iterations == 50_000)
        #expect(spec.reinit == .rewind(iteration: 0))
    }

    @Test func setKeysFromText() throws {
        var spec = TrialSpec()
        try spec.set("prune.strategy", to: .parse("global-magnitude"))
        try spec.set("reinit", to: .parse("rewind:500"))
        try spec.set("model.layers", to: .parse("[64, 32]"))
        try spec.set("train.lr", to: .parse("6e-4"))
        #expect(spec.prune.strategy == .globalMagnitude)
        #expect(spec.reinit == .rewind(iteration: 500))
        #expect(spec.model.layers == [64, 32])
        #expect(spec.train.lr == 6e-4)
    }

    @Test(arguments: [
        ("prune.strategy", "magnitude", "prune.strategy: 'magnitude' is not one of"),
        ("train.lr", "-1", "train.lr: -1 is not a number > 0"),
        ("reinit", "rewind:x", "reinit: 'rewind:x' is not one of"),
        ("train.learning_rate", "1", "train.learning_rate: unknown key"),
        ("train.batch", "1.5", "train.batch: '1.5' is not an integer"),
    ])
    func badValuesNameKeyAndValue(key: String, value: String, expected: String) {
        var spec = TrialSpec()
        #expect {
            try spec.set(key, to: .parse(value))
        } throws: { error in
            String(describing: error).hasPrefix(expected)
        }
    }

    @Test func rateCountMustMatchLayers() throws {
        var spec = TrialSpec()
        try spec.set("prune.rates", to: .parse("[0.2, 0.1]"))
        #expect(throws: SpecError.self) { try spec.validate() }
        try spec.set("prune.rates", to: .parse("0.3"))
        try spec.validate()
        #expect(spec.resolvedRates == [0.3, 0.3, 0.3])
    }

    @Test func trialIDIsStableAndSensitive() throws {
        let base = TrialSpec()
        var explicit = TrialSpec()
        try explicit.set("prune.rates", to: .parse("[0.2, 0.2, 0.1]"))
        try explicit.set("seeds.init", to: .int(base.initSeed))
        #expect(base.trialID == explicit.trialID, "writing out a default must not change the trial")
        var other = base
        other.seed = 1
        #expect(other.trialID != base.trialID)
        #expect(other.initSeed != base.initSeed && other.orderSeed != base.orderSeed)
        #expect(base.trialID.count == 17 && base.trialID.hasPrefix("t"))
        let branch = base.branch(.reinitRandom, round: 3, index: 0)
        #expect(branch.trialID != base.trialID)
    }

    @Test func jsonRoundTrip() throws {
        var spec = TrialSpec()
        spec.reinit = .rewind(iteration: 200)
        spec.controls = [.reinitRandom]
        let data = try JSONEncoder().encode(spec)
        let back = try JSONDecoder().decode(TrialSpec.self, from: data)
        #expect(back == spec)
        #expect(String(decoding: data, as: UTF8.self).contains("\"rewind:200\""))
    }

    @Test func rngIsSeedDeterministic() {
        var a = LotteryRNG(seed: 42), b = LotteryRNG(seed: 42), c = LotteryRNG(seed: 43)
        let xa = (0..<8).map { _ in a.next() }, xb = (0..<8).map { _ in b.next() }, xc = (0..<8).map { _ in c.next() }
        #expect(xa == xb)
        #expect(xa != xc)
        var g = LotteryRNG(seed: 7)
        let draws = (0..<20_000).map { _ in g.gaussian() }
        let mean = draws.reduce(0, +) / Double(draws.count)
        let variance = draws.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(draws.count)
        #expect(abs(mean) < 0.03 && abs(variance - 1) < 0.05)
    }
}
