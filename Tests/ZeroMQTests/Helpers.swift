import Foundation
import Synchronization
import Testing
import ZeroMQ

/// Generous bound for anything that should happen "soon": a hang fails the test instead of blocking.
let patience = 5_000

/// Runs `body` in a fresh temporary directory and removes it afterwards.
func withTemporaryDirectory<T>(_ body: (String) throws -> T) throws -> T {
    let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("zeromq-tests-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try body(path)
}

/// Starts `body` on a dedicated thread; the returned semaphore is signalled when it returns.
func startThread(_ body: @escaping @Sendable () -> Void) -> DispatchSemaphore {
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
        body()
        done.signal()
    }
    thread.start()
    return done
}

/// Waits for `semaphore` at most `milliseconds`; true if it was signalled.
func wait(_ semaphore: DispatchSemaphore, milliseconds: Int = patience) -> Bool {
    semaphore.wait(timeout: .now() + .milliseconds(milliseconds)) == .success
}

/// A value written by one thread and read by another.
final class Box<Value: Sendable>: Sendable {
    private let storage: Mutex<Value>
    init(_ value: Value) { storage = Mutex(value) }
    var value: Value {
        get { storage.withLock { $0 } }
        set { storage.withLock { $0 = newValue } }
    }
    func update(_ body: (inout Value) -> Void) { storage.withLock { body(&$0) } }
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// Polls `condition` every 10 ms for at most `milliseconds`.
func eventually(milliseconds: Int = patience, _ condition: () -> Bool) -> Bool {
    let end = Date().addingTimeInterval(Double(milliseconds) / 1000)
    while Date() < end {
        if condition() { return true }
        Thread.sleep(forTimeInterval: 0.01)
    }
    return condition()
}
