public import Dispatch
import Foundation

/// SIGTERM/SIGINT handling shared by the three executables: the first signal asks the program to stop cleanly,
/// a second one exits at once (status 130).
///
/// The handler runs on a dispatch queue, never inside the raw signal handler, so it may take locks and talk to
/// other threads. Keep the returned sources alive for as long as the handling should last.
public enum StopSignals {
    /// Installs the handlers.
    ///
    /// - Parameters:
    ///   - label: the dispatch queue's label (the program's name).
    ///   - onStop: called once, with `"SIGTERM"` or `"SIGINT"`.
    /// - Returns: the signal sources; dropping them removes the handling.
    public static func install(label: String, onStop: @escaping @Sendable (String) -> Void)
        -> [any DispatchSourceSignal]
    {
        let queue = DispatchQueue(label: label)
        let count = Count()
        return [SIGTERM, SIGINT].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler {
                if count.increment() > 1 { Foundation.exit(130) }
                onStop(number == SIGTERM ? "SIGTERM" : "SIGINT")
            }
            source.resume()
            return source
        }
    }

    /// Signals seen so far; touched only on the signal queue (hence `@unchecked`).
    private final class Count: @unchecked Sendable {
        private var value = 0
        func increment() -> Int {
            value += 1
            return value
        }
    }
}
