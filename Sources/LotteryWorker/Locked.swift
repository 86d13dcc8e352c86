import Foundation

/// A value guarded by a lock, shared between the I/O thread and trial threads.
///
/// `@unchecked Sendable`: every access to `value` goes through `withLock`, under `NSLock`. (The standard
/// library's `Mutex` needs macOS 15; the package still builds for macOS 14.)
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }

    var current: Value { withLock { $0 } }
}
