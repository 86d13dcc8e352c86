import ArgumentParser
import Foundation
import ZeroMQ

/// `lth keygen DIR [--name NAME] [--force]`: writes a CURVE key pair for a coordinator or worker.
struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Write a CURVE key pair (NAME.key public, NAME.key_secret secret, mode 0600) into DIR.",
        discussion: """
            Workers: copy NAME.key into the coordinator's allow-list directory; NAME becomes the \
            worker's authenticated identity. Coordinator: give its NAME.key to every worker as the \
            server key. Never copy a .key_secret file off its host. Format: docs/zeromq.md.
            """
    )

    @Argument(help: "Directory for the key files (created, mode 0700, if missing).")
    var directory: String

    @Option(help: "Key name: file stem and the identity the coordinator sees. Default: this host's name.")
    var name: String?

    @Flag(help: "Replace existing key files of the same name.")
    var force = false

    func run() throws {
        let name = self.name ?? Self.defaultName()
        do {
            try CurveKeyPair.validateName(name)
        } catch let error as CurveKeyError {
            throw ValidationError("--name: \(error.reason)")
        }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw KeygenError("\(directory) exists and is not a directory") }
        } else {
            do {
                try FileManager.default.createDirectory(
                    atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw KeygenError("cannot create directory \(directory): \(error.localizedDescription)")
            }
        }
        let pair: CurveKeyPair
        let paths: (publicKey: String, secretKey: String)
        do {
            pair = try CurveKeyPair.generate()
            paths = try pair.save(directory: directory, name: name, overwrite: force)
        } catch let error as CurveKeyError {
            let hint = error.reason.contains("refusing to overwrite") ? " (use --force to replace it)" : ""
            throw KeygenError("\(error)\(hint)")
        }
        print(
            """
            Wrote CURVE key pair '\(name)':
              public key: \(paths.publicKey)   (\(pair.publicKey.z85))
              secret key: \(paths.secretKey)   (mode 0600: keep it on this host, never share it)
            Next:
              worker:      copy \(name).key into the coordinator's allow-list directory;
                           the coordinator then knows this worker as '\(name)'.
              coordinator: give \(name).key to every worker as the server's public key.
            """)
    }

    /// The first label of the host name, e.g. `node17` for `node17.cluster.example.org`.
    static func defaultName() -> String {
        let host = ProcessInfo.processInfo.hostName
        return String(host.split(separator: ".").first ?? "key")
    }
}

/// A one-line keygen failure; ArgumentParser prints it as `Error: …`.
struct KeygenError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
