import Synchronization

/// A small thread-safe memo for benchmark paths (synthetic trials): the value for a key is computed once, under
/// the lock, so when a wave of threads asks for the same key at once one computes and the others wait for its
/// result instead of all computing it. Cleared when full (`capacity` entries).
public final class ComputeOnceCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private let entries = Mutex<[Key: Value]>([:])
    public let capacity: Int

    public init(capacity: Int) { self.capacity = capacity }

    /// The cached value for `key` if `isValid` accepts it, else `compute()`'s, stored.
    public func value(for key: Key, isValid: (Value) -> Bool = { _ in true }, compute: () -> Value) -> Value {
        entries.withLock { entries in
            if let hit = entries[key], isValid(hit) { return hit }
            let value = compute()
            if entries.count >= capacity { entries.removeAll() }
            entries[key] = value
            return value
        }
    }
}
