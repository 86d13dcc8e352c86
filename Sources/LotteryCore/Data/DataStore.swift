import Foundation

/// Where data sets live on disk and how to load them.
///
/// Layout: `DIR/<name>/train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`,
/// `t10k-labels-idx1-ubyte` (the MNIST distribution's names; Fashion-MNIST uses the same), plus
/// `DIR/<name>/SHA256SUMS` written by `lth data fetch`.
public enum DataStore {
    /// The data sets `lth data fetch` knows.
    public static let names = ["mnist", "fashion-mnist"]
    /// The four IDX file names, in the order train images, train labels, test images, test labels.
    public static let fileNames = [
        "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
    ]
    /// Image side length of both supported data sets.
    public static let side = 28

    /// `$LTH_DATA_DIR` if set and non-empty, else `./data`.
    public static func defaultDirectory() -> String {
        if let dir = ProcessInfo.processInfo.environment["LTH_DATA_DIR"], !dir.isEmpty { return dir }
        return "data"
    }

    /// The folder of data set `name` under `directory`.
    public static func folder(_ name: String, directory: String) -> String {
        (directory as NSString).appendingPathComponent(name)
    }

    /// Loads and checks the training and test sets of `name` (28×28 images, labels < 10, counts agree).
    ///
    /// - Throws: ``IDXError`` naming the file and what was wrong (missing, truncated, foreign, mismatched).
    public static func load(_ name: String, directory: String) throws -> (train: Dataset, test: Dataset) {
        let folder = folder(name, directory: directory)
        let paths = fileNames.map { (folder as NSString).appendingPathComponent($0) }
        let train = try loadPair(images: paths[0], labels: paths[1])
        let test = try loadPair(images: paths[2], labels: paths[3])
        return (train, test)
    }

    /// Loads one image file and its label file, checking shape and count agreement.
    public static func loadPair(images imagesPath: String, labels labelsPath: String) throws(IDXError) -> Dataset {
        let images = try IDX.readImages(at: imagesPath)
        guard images.rows == side, images.cols == side else {
            throw IDXError(
                file: imagesPath,
                problem: .badDimensions("images are \(images.rows)x\(images.cols), expected \(side)x\(side)"))
        }
        let labels = try IDX.readLabels(at: labelsPath, classes: 10)
        guard labels.count == images.count else {
            throw IDXError(file: labelsPath, problem: .countMismatch(images: images.count, labels: labels.count))
        }
        return Dataset(pixels: images.pixels, labels: labels, features: side * side, classes: 10)
    }

    /// Loads `spec.dataset` and splits it by ``TrialSpec/splitSeed``.
    public static func splits(for spec: TrialSpec, directory: String) throws -> DataSplits {
        let (train, test) = try load(spec.dataset, directory: directory)
        return DataSplits(train: train, test: test, validationCount: spec.data.validation, seed: spec.splitSeed)
    }
}
