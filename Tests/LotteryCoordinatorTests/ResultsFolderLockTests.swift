import Foundation
import LotteryCoordinator
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// One coordinator per results folder (issue 15): `flock` on `DIR/.lock`.
@Suite("Results folder lock")
struct ResultsFolderLockTests {
    @Test func aSecondHolderIsRefusedWithTheFirstOnesPidHostAndTimeUntilItLetsGo() throws {
        try withTemporaryDirectory { dir in
            let folder = dir.appendingPathComponent("out")
            var first: ResultsFolderLock? = try ResultsFolderLock.acquire(
                directory: folder, now: Date(timeIntervalSince1970: 1_700_000_000))
            #expect(first?.path == folder.appendingPathComponent(".lock").path)
            let text = try String(contentsOfFile: folder.appendingPathComponent(".lock").path, encoding: .utf8)
            #expect(text.contains("pid \(getpid())"))
            do {
                _ = try ResultsFolderLock.acquire(directory: folder)
                Issue.record("a second lock on the same folder was granted")
            } catch {
                let message = "\(error)"
                #expect(message.contains("in use by another coordinator"))
                #expect(message.contains("pid \(getpid()) on host \(ProcessInfo.processInfo.hostName)"))
                #expect(message.contains("since 2023-11-14T22:13:20Z"))
                #expect(message.contains("--out"))
                #expect(!message.contains("\n"))
            }
            withExtendedLifetime(first) {}
            first = nil  // closing the descriptor releases the lock; the file stays
            #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent(".lock").path))
            let second = try ResultsFolderLock.acquire(directory: folder)
            let rewritten = try String(contentsOfFile: second.path, encoding: .utf8)
            #expect(!rewritten.contains("2023-11-14"))
        }
    }
}
