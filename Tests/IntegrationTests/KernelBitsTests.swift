import Foundation
import LotteryCore
import TestPrerequisites
import Testing

/// CKernels' AVX2 loops against the portable Swift ones (`LTH_PORTABLE_KERNELS=1`): the same IMP trial, dense rounds
/// (first layer skipping zero inputs) and sparse-kernel rounds, must write byte-identical curves and masks and the
/// same rounds.csv cells.
@Suite struct KernelBitsTests {
    @Test(.requires(.binaries)) func avx2AdamGivesTheSameBitsAsThePortableLoop() throws {
        let bin = try Binaries.require()
        try withTemporaryDirectory { dir in
            try writeTinyMNIST(dir.appendingPathComponent("data"), train: 600, test: 200)
            // Mostly-zero images, so the dense rounds' first layer skips zeros (the list-product kernels) too.
            let pixels = try Data(
                contentsOf: dir.appendingPathComponent("data/mnist/train-images-idx3-ubyte")
            ).dropFirst(16)
            let nonzero = Double(pixels.reduce(0) { $0 + ($1 != 0 ? 1 : 0) }) / Double(pixels.count)
            #expect(nonzero < KernelPolicy.sparseInputDensityLimit * 0.9, "tiny MNIST is \(nonzero) nonzero")
            // 8 rounds at 20%/20%/10%: on this mostly-zero data layer 1 drops below the sparse-kernel density
            // (`sparseDensityLimitWithZeroInputs`, 24%) in round 7.
            let settings = [
                "train.iterations=60", "train.eval_every=20", "data.validation=100", "prune.rounds=7", "controls=[]",
            ].flatMap { ["--set", $0] }
            func run(_ name: String, portable: Bool) throws -> URL {
                let out = dir.appendingPathComponent(name)
                let child = try Child(
                    bin.appendingPathComponent("lth"),
                    ["train"] + settings + ["--data-dir", dir.appendingPathComponent("data").path, "--out", out.path],
                    log: dir.appendingPathComponent("\(name).log"),
                    environment: portable ? ["LTH_PORTABLE_KERNELS": "1"] : [:])
                #expect(child.wait(seconds: 240) == 0, "lth train: \(child.output)")
                return out
            }
            let portable = try run("portable", portable: true)
            let fast = try run("fast", portable: false)
            let curves = try Data(contentsOf: portable.appendingPathComponent("curves.csv"))
            #expect(curves == (try Data(contentsOf: fast.appendingPathComponent("curves.csv"))))
            let a = try readCSV(portable.appendingPathComponent("rounds.csv"))
            let b = try readCSV(fast.appendingPathComponent("rounds.csv"))
            #expect(a.count == 8 && b.count == 8)
            for (x, y) in zip(a, b) {
                for (key, value) in x where !["seconds", "recorded_at"].contains(key) {
                    #expect(y[key] == value, "round \(x["round"] ?? "?"): \(key) differs")
                }
            }
            // The last round ran on the sparse kernels, so both paths were covered.
            #expect(Double(a.last?["density"] ?? "") ?? 1 < KernelPolicy.sparseDensityLimitWithZeroInputs)
            let masks = portable.appendingPathComponent("masks")
            for trial in try FileManager.default.contentsOfDirectory(atPath: masks.path) {
                for file in try FileManager.default.contentsOfDirectory(
                    atPath: masks.appendingPathComponent(trial).path)
                {
                    let path = "masks/\(trial)/\(file)"
                    #expect(
                        try Data(contentsOf: portable.appendingPathComponent(path))
                            == Data(contentsOf: fast.appendingPathComponent(path)), "\(path) differs")
                }
            }
        }
    }
    /// The weight-sparse convolution's and the Winograd F(4×4) products' three versions (portable Swift, AVX2 + FMA,
    /// AVX-512 where the CPU has it): a conv trial whose second conv layer (8 → 32 channels, so the products run
    /// whole 32-column blocks as well as tails) trains on Winograd F(4×4) in rounds 0–2 and drops to 6.4 % in
    /// round 3 (conv rate 60 %), so that round trains on the sparse kernels, writes byte-identical curves and the
    /// same rounds.csv cells under each (the Winograd transforms: AVX2 C or portable Swift).
    @Test(.requires(.binaries)) func sparseConvolutionGivesTheSameBitsOnEveryKernelLevel() throws {
        let bin = try Binaries.require()
        #expect(0.4 * 0.4 * 0.4 < KernelPolicy.sparseConvDensityLimit, "round 3 would not be sparse")
        #expect(0.4 * 0.4 >= KernelPolicy.sparseConvDensityLimit, "round 2 would not be Winograd")
        try withTemporaryDirectory { dir in
            try writeTinyMNIST(dir.appendingPathComponent("data"), train: 300, test: 100)
            let settings = [
                "model.layers=[conv8,conv32,pool,16]", "prune.rates.conv=0.6", "prune.rounds=3", "train.iterations=20",
                "train.eval_every=10", "data.validation=50", "controls=[]",
            ].flatMap { ["--set", $0] }
            func run(_ name: String, _ environment: [String: String]) throws -> URL {
                let out = dir.appendingPathComponent(name)
                let child = try Child(
                    bin.appendingPathComponent("lth"),
                    ["train"] + settings + ["--data-dir", dir.appendingPathComponent("data").path, "--out", out.path],
                    log: dir.appendingPathComponent("\(name).log"), environment: environment)
                #expect(child.wait(seconds: 240) == 0, "lth train: \(child.output)")
                return out
            }
            let runs = [
                try run("portable", ["LTH_PORTABLE_KERNELS": "1"]), try run("avx2", ["LTH_NO_AVX512_KERNELS": "1"]),
                try run("widest", [:]),
            ]
            let curves = try runs.map { try Data(contentsOf: $0.appendingPathComponent("curves.csv")) }
            #expect(!curves[0].isEmpty && curves[1] == curves[0] && curves[2] == curves[0])
            let rows = try runs.map { try readCSV($0.appendingPathComponent("rounds.csv")) }
            #expect(rows.allSatisfy { $0.count == 4 })
            for other in rows.dropFirst() {
                for (x, y) in zip(rows[0], other) {
                    for (key, value) in x where !["seconds", "recorded_at"].contains(key) {
                        #expect(y[key] == value, "round \(x["round"] ?? "?"): \(key) differs")
                    }
                }
            }
        }
    }
}
