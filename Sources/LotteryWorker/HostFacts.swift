import Foundation
import LotteryCore

/// Facts about this machine and build that a worker reports in HELLO.
public enum HostFacts {
    /// Hardware threads available to this process.
    public static var cores: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }

    /// The host name (`gethostname`), or `localhost` if it is empty.
    public static var hostName: String {
        let name = ProcessInfo.processInfo.hostName
        return name.isEmpty ? "localhost" : name
    }

    /// 16 random hex digits: unique per process start (HELLO `instance_id`). Not recorded in results, so the
    /// system generator is fine here.
    public static func randomInstanceID() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<8).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    /// The CPU kind: `/proc/cpuinfo`'s first `model name`, plus the first 8 hex digits of the SHA-256 of its
    /// `flags` line (results are bit-identical only between equal kinds: SIMD paths in OpenBLAS differ).
    /// `unknown` where `/proc/cpuinfo` is missing.
    public static var cpuKind: String {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown" }
        func field(_ name: String) -> String? {
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: ":", maxSplits: 1)
                if parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == name {
                    return parts[1].trimmingCharacters(in: .whitespaces)
                }
            }
            return nil
        }
        let model = field("model name") ?? field("CPU part") ?? "unknown"
        let flags = field("flags") ?? field("Features") ?? ""
        return "\(model) [flags \(SHA256.hexDigest(Array(flags.utf8)).prefix(8))]"
    }

    /// A build id: the first 16 hex digits of the SHA-256 of the file at `path` (normally the running
    /// executable, `/proc/self/exe`); `unknown` if it cannot be read.
    public static func buildID(executable path: String = "/proc/self/exe") -> String {
        guard let data = FileManager.default.contents(atPath: path) else { return "unknown" }
        return String(SHA256.hexDigest([UInt8](data)).prefix(16))
    }
}
