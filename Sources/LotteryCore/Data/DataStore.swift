import Foundation

/// Where data sets live on disk and how to load them.
///
/// Layout: `DIR/<name>/train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`,
/// `t10k-labels-idx1-ubyte` (the MNIST distribution's names; Fashion-MNIST and CIFAR-10 use the same, so the
/// coordinator's dataset bundle and the workers' cache need nothing per data set), plus `DIR/<name>/SHA256SUMS`
/// written by `lth data fetch`. CIFAR-10's image files hold IDX4 `[N, 3, 32, 32]` despite the `idx3` in the name.
public enum DataStore {
    /// The data sets `lth data fetch` knows.
    public static let names = ["mnist", "fashion-mnist", "cifar10"]
    /// The four IDX file names, in the order train images, train labels, test images, test labels.
    public static let fileNames = [
        "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
    ]
    /// Image side length of MNIST and Fashion-MNIST.
    public static let side = 28

    /// The image shape data set `name` must have: `1x28x28` for `mnist` and `fashion-mnist`, `3x32x32` for
    /// `cifar10`; any other name is held to MNIST's shape, as before CIFAR-10 (tests use such names).
    public static func expectedShape(_ name: String) -> InputShape {
        name == "cifar10" ? .cifar10 : .mnist
    }

    /// How the pixels of data set `name` become the network's inputs (docs/training.md, "Data").
    public static func normalization(_ name: String) -> PixelNormalization {
        name == "cifar10" ? .perChannelStandardization : .unitRange
    }

    /// `$LTH_DATA_DIR` if set and non-empty, else `./data`.
    public static func defaultDirectory() -> String {
        if let dir = ProcessInfo.processInfo.environment["LTH_DATA_DIR"], !dir.isEmpty { return dir }
        return "data"
    }

    /// The folder of data set `name` under `directory`.
    public static func folder(_ name: String, directory: String) -> String {
        (directory as NSString).appendingPathComponent(name)
    }

    /// Loads and checks the training and test sets of `name` (images of ``expectedShape(_:)``, labels < 10,
    /// counts agree), normalised by ``normalization(_:)``: the same bytes give the same floats on every machine.
    ///
    /// - Throws: ``IDXError`` naming the file and what was wrong (missing, truncated, foreign, wrong shape,
    ///   mismatched).
    public static func load(_ name: String, directory: String) throws -> (train: Dataset, test: Dataset) {
        let folder = folder(name, directory: directory)
        let paths = fileNames.map { (folder as NSString).appendingPathComponent($0) }
        let shape = expectedShape(name)
        let train = try readPair(images: paths[0], labels: paths[1], shape: shape, dataset: name)
        let test = try readPair(images: paths[2], labels: paths[3], shape: shape, dataset: name)
        // Statistics (when the rule needs any) come from the official training file alone, before any split, so
        // they do not depend on the split seed and the test set is normalised exactly as the training set.
        let normalizer = PixelNormalizer(normalization(name), trainingPixels: train.pixels, shape: shape)
        return (
            normalizer.dataset(pixels: train.pixels, labels: train.labels, shape: shape),
            normalizer.dataset(pixels: test.pixels, labels: test.labels, shape: shape)
        )
    }

    /// Loads one image file and its label file, checking shape and count agreement; pixels scaled to [0, 1].
    ///
    /// - Parameter shape: the image shape the file must have (MNIST's `1x28x28` unless told).
    public static func loadPair(images imagesPath: String, labels labelsPath: String, shape: InputShape = .mnist)
        throws(IDXError) -> Dataset
    {
        let pair = try readPair(images: imagesPath, labels: labelsPath, shape: shape, dataset: nil)
        return Dataset(pixels: pair.pixels, labels: pair.labels, shape: shape, classes: 10)
    }

    /// The raw bytes of an image file and its label file, checked: the images have `shape`, labels are < 10
    /// and as many as the images.
    public static func readPair(
        images imagesPath: String, labels labelsPath: String, shape: InputShape, dataset: String?
    )
        throws(IDXError) -> (pixels: [UInt8], labels: [UInt8])
    {
        let images = try IDX.readImages(at: imagesPath)
        guard images.shape == shape else {
            let whose = dataset.map { "\($0) needs" } ?? "expected"
            throw IDXError(
                file: imagesPath, problem: .badDimensions("images are \(images.shape) (CxHxW), \(whose) \(shape)"))
        }
        let labels = try IDX.readLabels(at: labelsPath, classes: 10)
        guard labels.count == images.count else {
            throw IDXError(file: labelsPath, problem: .countMismatch(images: images.count, labels: labels.count))
        }
        return (images.pixels, labels)
    }

    /// What ``check(_:directory:)`` found in a data set's folder.
    public struct Summary: Sendable, Hashable {
        public var shape: InputShape
        public var trainCount: Int
        public var testCount: Int
        /// Training images per class.
        public var trainHistogram: [Int]
        public var normalization: PixelNormalization
        /// Per-channel statistics of the training images (those that standardisation uses).
        public var statistics: [ChannelStatistics]
    }

    /// Reads and checks the four files of `name` as ``load(_:directory:)`` does (shape, labels, counts), without
    /// making the float inputs.
    public static func check(_ name: String, directory: String) throws(IDXError) -> Summary {
        let folder = folder(name, directory: directory)
        let paths = fileNames.map { (folder as NSString).appendingPathComponent($0) }
        let shape = expectedShape(name)
        let train = try readPair(images: paths[0], labels: paths[1], shape: shape, dataset: name)
        let test = try readPair(images: paths[2], labels: paths[3], shape: shape, dataset: name)
        var histogram = [Int](repeating: 0, count: 10)
        for label in train.labels { histogram[Int(label)] += 1 }
        return Summary(
            shape: shape, trainCount: train.labels.count, testCount: test.labels.count, trainHistogram: histogram,
            normalization: normalization(name), statistics: ChannelStatistics.of(pixels: train.pixels, shape: shape))
    }

    /// Loads `spec.dataset` and splits it by ``TrialSpec/splitSeed``.
    public static func splits(for spec: TrialSpec, directory: String) throws -> DataSplits {
        let (train, test) = try load(spec.dataset, directory: directory)
        return DataSplits(train: train, test: test, validationCount: spec.data.validation, seed: spec.splitSeed)
    }
}
