import Foundation
import LotteryCore
import LotteryWire
import LotteryWorker
import Synchronization
import Testing

/// The dataset cache shared by several workers on one host.
@Suite("Dataset cache shared by the workers of one host")
struct DatasetDiskTests {
    /// Workers on one host that finish downloading the same bundle at the same moment all install it: none fails
    /// on the other's folder (a CI run saw "Directory not empty" from the final rename, and the trial was retried).
    @Test func workersInstallingTheSameBundleAtOnceAllSucceed() throws {
        try withTemporaryDirectory { dir in
            let data = dir + "/data"
            try CIFAR10DatasetTests.writeCIFARFolder(data, train: 20, test: 10)
            let bundle = try DatasetBundle.packDirectory(URL(fileURLWithPath: data), dataset: "cifar10")
            let ref = WireMessage.DatasetRef(id: "cifar10", checksum: DatasetBundle.checksum(bundle))
            let workers = 4
            for attempt in 0..<6 {
                let cache = dir + "/cache-\(attempt)"
                let errors = Mutex<[String]>([])
                DispatchQueue.concurrentPerform(iterations: workers) { worker in
                    do {
                        try DatasetDisk(directory: cache).install(bundle: bundle, ref: ref, instance: "w\(worker)")
                    } catch {
                        errors.withLock { $0.append("w\(worker): \(error)") }
                    }
                }
                let failures = errors.withLock { $0 }
                #expect(failures.isEmpty, "attempt \(attempt): \(failures)")
                #expect(DatasetDisk(directory: cache).has(ref))
                // Only the folder and the lock are left: no staging or old folders.
                let left = try FileManager.default.contentsOfDirectory(atPath: cache).sorted()
                #expect(left == [".install-cifar10.lock", "cifar10"], "attempt \(attempt)")
            }
        }
    }
}
