import Foundation
import LotteryCore
import Testing

@Suite("IDX files and the train/validation split")
struct DataTests {
    static func writeGood(_ dir: String, count: Int = 5, side: Int = 28) throws -> (images: String, labels: String) {
        let pixels = (0..<(count * side * side)).map { UInt8($0 % 256) }
        let images = (dir as NSString).appendingPathComponent("train-images-idx3-ubyte")
        let labels = (dir as NSString).appendingPathComponent("train-labels-idx1-ubyte")
        try IDX.write(IDX.Images(count: count, rows: side, cols: side, pixels: pixels), to: images)
        try IDX.write(labels: (0..<count).map { UInt8($0 % 10) }, to: labels)
        return (images, labels)
    }

    static func problem(_ body: () throws -> Void) -> IDXError.Problem? {
        do { try body() } catch let error as IDXError { return error.problem } catch { return nil }
        return nil
    }

    @Test func goodFilesLoadScaledToUnitRange() throws {
        try withTemporaryDirectory { dir in
            let (images, labels) = try Self.writeGood(dir)
            let data = try DataStore.loadPair(images: images, labels: labels)
            #expect(data.count == 5 && data.features == 784 && data.classes == 10)
            #expect(data.labels == [0, 1, 2, 3, 4])
            #expect(data.images[1] == 1 / 255 && data.images[255] == 1 && data.images.allSatisfy { $0 >= 0 && $0 <= 1 })
            // The same through DataStore.load with the standard layout.
            let folder = DataStore.folder("mnist", directory: dir)
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            for (from, name) in [
                (images, "train-images-idx3-ubyte"), (labels, "train-labels-idx1-ubyte"),
                (images, "t10k-images-idx3-ubyte"), (labels, "t10k-labels-idx1-ubyte"),
            ] {
                try FileManager.default.copyItem(
                    atPath: from, toPath: (folder as NSString).appendingPathComponent(name))
            }
            let (train, test) = try DataStore.load("mnist", directory: dir)
            #expect(train.images == data.images && test.labels == data.labels)
        }
    }

    @Test func everyTruncationIsANamedError() throws {
        try withTemporaryDirectory { dir in
            let (images, labels) = try Self.writeGood(dir)
            let imageBytes = [UInt8](FileManager.default.contents(atPath: images)!)
            let labelBytes = [UInt8](FileManager.default.contents(atPath: labels)!)
            // Lengths inside the magic, inside the dimensions, inside the payload, and one byte short.
            for length in [0, 2, 4, 9, 15, 16, 100, imageBytes.count - 1] {
                let p = Self.problem { _ = try IDX.parseImages(Array(imageBytes[..<length]), file: "x") }
                switch p {
                case .truncatedHeader, .wrongLength: break
                default: Issue.record("length \(length): \(String(describing: p))")
                }
            }
            for length in [0, 3, 5, 8, labelBytes.count - 1] {
                let p = Self.problem { _ = try IDX.parseLabels(Array(labelBytes[..<length]), file: "y") }
                switch p {
                case .truncatedHeader, .wrongLength: break
                default: Issue.record("length \(length): \(String(describing: p))")
                }
            }
            #expect(
                Self.problem { _ = try IDX.parseImages(imageBytes + [0], file: "x") }
                    == .wrongLength(have: imageBytes.count + 1, expected: imageBytes.count))
            // A truncated file on disk names the file.
            try Data(imageBytes[..<1000]).write(to: URL(fileURLWithPath: images))
            do {
                _ = try DataStore.loadPair(images: images, labels: labels)
                Issue.record("truncated file loaded")
            } catch let error as IDXError {
                #expect(error.file == images)
                #expect(error.description.contains("truncated"))
            }
        }
    }

    @Test func wrongMagicDimensionsCountsAndLabelsAreNamedErrors() throws {
        try withTemporaryDirectory { dir in
            let (images, labels) = try Self.writeGood(dir)
            #expect(
                Self.problem { _ = try IDX.readImages(at: labels) }
                    == .wrongMagic(found: IDX.labelsMagic, expected: IDX.imagesMagic))
            #expect(
                Self.problem { _ = try IDX.readLabels(at: images) }
                    == .wrongMagic(found: IDX.imagesMagic, expected: IDX.labelsMagic))
            let foreign = (dir as NSString).appendingPathComponent("foreign")
            try Data("<html>not found</html>".utf8).write(to: URL(fileURLWithPath: foreign))
            if case .wrongMagic = Self.problem({ _ = try IDX.readImages(at: foreign) }) {
            } else {
                Issue.record("foreign file not rejected by magic")
            }

            let small = (dir as NSString).appendingPathComponent("small")
            try IDX.write(
                IDX.Images(count: 5, rows: 27, cols: 28, pixels: [UInt8](repeating: 0, count: 5 * 27 * 28)), to: small)
            if case .badDimensions = Self.problem({ _ = try DataStore.loadPair(images: small, labels: labels) }) {
            } else {
                Issue.record("27x28 accepted")
            }
            var zero = IDX.encode(IDX.Images(count: 1, rows: 1, cols: 1, pixels: [0]))
            zero[11] = 0  // count 0
            if case .badDimensions = Self.problem({ _ = try IDX.parseImages(Array(zero[..<16]), file: "z") }) {
            } else {
                Issue.record("zero count accepted")
            }

            let fewer = (dir as NSString).appendingPathComponent("fewer")
            try IDX.write(labels: [1, 2, 3], to: fewer)
            #expect(
                Self.problem { _ = try DataStore.loadPair(images: images, labels: fewer) }
                    == .countMismatch(images: 5, labels: 3))
            #expect(
                Self.problem { _ = try IDX.parseLabels(IDX.encode(labels: [1, 10, 2]), file: "l") }
                    == .badLabel(index: 1, value: 10, classes: 10))
            #expect(
                Self.problem { _ = try IDX.readImages(at: (dir as NSString).appendingPathComponent("absent")) }
                    == .unreadable("no such file"))
        }
    }

    @Test func splitSizesAreRightDisjointAndSeedDetermined() {
        // Image i holds the value i, so images identify themselves.
        let train = Dataset(
            images: (0..<1_000).map(Float.init), labels: (0..<1_000).map { UInt8($0 % 10) }, features: 1)
        let test = Dataset(images: [0, 1], labels: [0, 1], features: 1)
        let split = DataSplits(train: train, test: test, validationCount: 100, seed: 5)
        #expect(split.train.count == 900 && split.validation.count == 100 && split.test.count == 2)
        let trainIDs = Set(split.train.images.map(Int.init)), validationIDs = Set(split.validation.images.map(Int.init))
        #expect(trainIDs.isDisjoint(with: validationIDs))
        #expect(trainIDs.union(validationIDs) == Set(0..<1_000))
        #expect(split.validation.labels == split.validation.images.map { UInt8(Int($0) % 10) })
        let again = DataSplits(train: train, test: test, validationCount: 100, seed: 5)
        #expect(again.validation.images == split.validation.images)
        let other = DataSplits(train: train, test: test, validationCount: 100, seed: 6)
        #expect(other.validation.images != split.validation.images)
    }

    @Test func csvQuotesListsAndQuotes() {
        let line = CSV.line(["a", "[300, 100]", "say \"hi\"", "line\nbreak"])
        #expect(line == "a,\"[300, 100]\",\"say \"\"hi\"\"\",\"line\nbreak\"\n")
        #expect(CSV.number(1) == "1.0" && CSV.number(.nan) == "nan" && CSV.number(-.infinity) == "-inf")
        #expect(CSV.number(nil) == "" && CSV.number(0.0012) == "0.0012")
    }
}
