import Foundation
import LotteryCore
import LotteryWire
import Testing

@testable import LotteryWorker

/// A `cifar10` folder as `lth data fetch cifar10` writes it goes through the coordinator's bundle and the worker's
/// cache and loader unchanged, and the worker sees 3×32×32 images normalised as `DataStore.load` does.
@Suite("CIFAR-10 through the coordinator's bundle and the worker's cache")
struct CIFAR10DatasetTests {
    /// Writes a small CIFAR-shaped data set (IDX4 images, IDX1 labels, SHA256SUMS) into `dir/cifar10/`.
    static func writeCIFARFolder(_ dir: String, train: Int = 60, test: Int = 20) throws {
        let folder = DataStore.folder("cifar10", directory: dir)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var rng = LotteryRNG(seed: 3, stream: "cifar-shaped")
        for (prefix, count) in [("train", train), ("t10k", test)] {
            let pixels = (0..<count * 3072).map { _ in UInt8(rng.below(256)) }
            try IDX.write(
                IDX.Images(count: count, channels: 3, rows: 32, cols: 32, pixels: pixels),
                to: folder + "/\(prefix)-images-idx3-ubyte")
            try IDX.write(labels: (0..<count).map { UInt8($0 % 10) }, to: folder + "/\(prefix)-labels-idx1-ubyte")
        }
        try MNISTConversion.writeChecksums(folder: folder)
    }

    @Test func aCIFARFolderIsServedInstalledAndLoadedWithItsShape() throws {
        try withTemporaryDirectory { dir in
            let data = dir + "/data", cache = dir + "/cache"
            try Self.writeCIFARFolder(data)
            // The coordinator's side: the same four names, packed into one bundle.
            let bundle = try DatasetBundle.packDirectory(URL(fileURLWithPath: data), dataset: "cifar10")
            let ref = WireMessage.DatasetRef(id: "cifar10", checksum: DatasetBundle.checksum(bundle))
            // The worker's side: installed into its cache, then loaded for a trial.
            let disk = DatasetDisk(directory: cache)
            try disk.install(bundle: bundle, ref: ref, instance: "test")
            #expect(disk.has(ref))
            var spec = TrialSpec()
            spec.dataset = "cifar10"
            spec.data.validation = 10
            let splits = try SplitCache(capacity: 1).splits(spec: spec, ref: ref, directory: cache)
            #expect(
                splits.train.shape == .cifar10 && splits.validation.shape == .cifar10 && splits.test.shape == .cifar10)
            #expect(splits.train.count == 50 && splits.validation.count == 10 && splits.test.count == 20)
            // Bit for bit what the data folder itself loads to: every worker gets the same inputs.
            let (train, test) = try DataStore.load("cifar10", directory: data)
            let direct = DataSplits(train: train, test: test, validationCount: 10, seed: spec.splitSeed)
            #expect(splits.train.images == direct.train.images && splits.test.images == direct.test.images)
            #expect(splits.train.labels == direct.train.labels)
        }
    }

    @Test func fullCIFAR10FitsInOneBundle() {
        // 60,000 images of 3,072 bytes, 60,000 labels, four IDX headers, the bundle's own header.
        let files = 50_000 * 3072 + 20 + 10_000 * 3072 + 20 + 50_000 + 8 + 10_000 + 8
        let header = 8 + DatasetBundle.idxFileNames.reduce(0) { $0 + 1 + $1.utf8.count + 8 }
        #expect(files + header < DatasetBundle.maxTotalBytes)
    }
}
