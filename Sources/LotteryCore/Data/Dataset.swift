/// The shape of one input image: `channels × height × width`, stored channel-first (CHW, PyTorch's order):
/// value `(c, y, x)` of an image is at `(c · height + y) · width + x` of its row.
///
/// MNIST and Fashion-MNIST are `1 × 28 × 28`, CIFAR-10 `3 × 32 × 32`. A fully connected first layer sees the
/// `features = channels · height · width` values of a row in that order.
public struct InputShape: Sendable, Hashable, Codable, CustomStringConvertible {
    public let channels: Int
    public let height: Int
    public let width: Int

    /// - Precondition: every side ≥ 1.
    public init(channels: Int, height: Int, width: Int) {
        precondition(
            channels >= 1 && height >= 1 && width >= 1, "InputShape: \(channels)x\(height)x\(width) is empty")
        self.channels = channels
        self.height = height
        self.width = width
    }

    /// A flat input of `features` values (no spatial structure): `1 × 1 × features`.
    public static func flat(_ features: Int) -> InputShape { InputShape(channels: 1, height: 1, width: features) }

    /// MNIST and Fashion-MNIST: one 28×28 grey channel.
    public static let mnist = InputShape(channels: 1, height: 28, width: 28)
    /// CIFAR-10: three 32×32 colour channels.
    public static let cifar10 = InputShape(channels: 3, height: 32, width: 32)

    /// Values per image.
    public var features: Int { channels * height * width }

    /// `CxHxW`, e.g. `1x28x28`.
    public var description: String { "\(channels)x\(height)x\(width)" }
}

/// Labelled images as the training core reads them.
///
/// `images` is `[count, features]` row-major, each row one image in ``InputShape`` (CHW) order, pixels normalised
/// as the data set's ``PixelNormalization`` says (MNIST: [0, 1]; CIFAR-10: standardised per channel);
/// `labels[i] < classes`.
public struct Dataset: Sendable {
    public let count: Int
    public let features: Int
    public let classes: Int
    /// The shape of one image; `shape.features == features`.
    public let shape: InputShape
    /// `count × features` input values, row-major (one image per row).
    public var images: [Float]
    public var labels: [UInt8]

    /// - Precondition: `images.count == labels.count * shape.features` and every label `< classes`.
    public init(images: [Float], labels: [UInt8], shape: InputShape, classes: Int = 10) {
        let features = shape.features
        precondition(
            images.count == labels.count * features,
            "Dataset: \(images.count) pixels for \(labels.count) images of \(features) features")
        precondition(labels.allSatisfy { Int($0) < classes }, "Dataset: a label is ≥ \(classes)")
        self.count = labels.count
        self.features = features
        self.shape = shape
        self.classes = classes
        self.images = images
        self.labels = labels
    }

    /// A data set of flat rows: `784` features are taken as MNIST's `1 × 28 × 28`, any other count as
    /// `1 × 1 × features`.
    public init(images: [Float], labels: [UInt8], features: Int, classes: Int = 10) {
        precondition(features >= 1, "Dataset: \(features) features")
        self.init(
            images: images, labels: labels, shape: features == InputShape.mnist.features ? .mnist : .flat(features),
            classes: classes)
    }

    /// A data set from raw 8-bit pixels (IDX layout), scaled by 1/255.
    public init(pixels: [UInt8], labels: [UInt8], shape: InputShape, classes: Int = 10) {
        let scale: Float = 1 / 255
        self.init(images: pixels.map { Float($0) * scale }, labels: labels, shape: shape, classes: classes)
    }

    /// A data set from raw 8-bit pixels of flat rows (see ``init(images:labels:features:classes:)``).
    public init(pixels: [UInt8], labels: [UInt8], features: Int, classes: Int = 10) {
        let scale: Float = 1 / 255
        self.init(images: pixels.map { Float($0) * scale }, labels: labels, features: features, classes: classes)
    }

    /// The images at `indices`, in that order.
    public func subset(_ indices: [Int]) -> Dataset {
        var images = [Float](repeating: 0, count: indices.count * features)
        var labels = [UInt8](repeating: 0, count: indices.count)
        self.images.withUnsafeBufferPointer { source in
            images.withUnsafeMutableBufferPointer { target in
                for (row, index) in indices.enumerated() {
                    precondition(index >= 0 && index < count, "Dataset.subset: index \(index) of \(count)")
                    (target.baseAddress! + row * features).update(
                        from: source.baseAddress! + index * features, count: features)
                    labels[row] = self.labels[index]
                }
            }
        }
        return Dataset(images: images, labels: labels, shape: shape, classes: classes)
    }

    /// Images per class, indexed by label.
    public var classHistogram: [Int] {
        var histogram = [Int](repeating: 0, count: classes)
        for label in labels { histogram[Int(label)] += 1 }
        return histogram
    }
}

/// The three sets of a trial: training, validation (early stopping) and test (reported only).
///
/// Following Frankle & Carbin (2019), the validation set is drawn at random from the official training set
/// (MNIST: 55,000 train / 5,000 validation); the 10,000 test images never touch training or early stopping.
public struct DataSplits: Sendable {
    public var train: Dataset
    public var validation: Dataset
    public var test: Dataset

    /// Splits `train` into training and validation sets by seed.
    ///
    /// The permutation of the training indices comes from the RNG stream `"split"` of `seed`
    /// (``LotteryRNG``, Fisher–Yates); its first `validationCount` indices are the validation set. Both sets
    /// keep the original file order of their images (sorted indices), so only membership depends on the seed.
    /// - Parameters:
    ///   - train: the official training set (60,000 for MNIST).
    ///   - test: the official test set.
    ///   - validationCount: images held out, `1 ..< train.count`.
    ///   - seed: ``TrialSpec/splitSeed``.
    public init(train: Dataset, test: Dataset, validationCount: Int, seed: Int) {
        precondition(
            validationCount >= 1 && validationCount < train.count,
            "DataSplits: validation \(validationCount) of \(train.count) training images")
        precondition(
            train.shape == test.shape && train.classes == test.classes,
            "DataSplits: train and test sets differ in shape")
        var order = Array(0..<train.count)
        var rng = LotteryRNG(seed: seed, stream: "split")
        rng.shuffle(&order)
        self.validation = train.subset(order[..<validationCount].sorted())
        self.train = train.subset(order[validationCount...].sorted())
        self.test = test
    }

    /// Sets given explicitly (tests, synthetic benchmarks).
    public init(train: Dataset, validation: Dataset, test: Dataset) {
        self.train = train
        self.validation = validation
        self.test = test
    }
}
