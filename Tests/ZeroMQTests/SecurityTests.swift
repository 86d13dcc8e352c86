import Foundation
import Testing
import ZeroMQ

@Suite("CURVE keys and key files")
struct KeyTests {
    @Test("Z85 matches the RFC 32 test vector and round-trips")
    func z85() throws {
        let vector: [UInt8] = [0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B]
        #expect(try Z85.encode(vector) == "HelloWorld")
        #expect(try Z85.decode("HelloWorld") == vector)
        #expect(throws: CurveKeyError.self) { try Z85.encode([1, 2, 3]) }
        #expect(throws: CurveKeyError.self) { try Z85.decode("abcd") }
        #expect(throws: CurveKeyError.self) { try Z85.decode("Hello Worl") }  // space is not Z85
    }

    @Test("a generated pair round-trips through Z85 and the public key derives from the secret")
    func keyPair() throws {
        let pair = try CurveKeyPair.generate()
        #expect(pair.publicKey.z85.count == 40)
        #expect(pair.secretKey.z85.count == 40)
        #expect(pair.publicKey != pair.secretKey)
        #expect(try CurveKey(z85: pair.publicKey.z85) == pair.publicKey)
        #expect(try CurveKeyPair(secretKey: pair.secretKey) == pair)
        let other = try CurveKeyPair.generate()
        #expect(other.publicKey != pair.publicKey)
        #expect(throws: CurveKeyError.self) {
            try CurveKeyPair(publicKey: other.publicKey, secretKey: pair.secretKey)
        }
        #expect(!pair.description.contains(pair.secretKey.z85))
        #expect(throws: CurveKeyError.self) { try CurveKey(z85: "tooShort") }
        #expect(throws: CurveKeyError.self) { try CurveKey(bytes: [UInt8](repeating: 0, count: 31)) }
    }

    @Test("key files save, load, refuse to overwrite, and keep the secret 0600")
    func keyFiles() throws {
        try withTemporaryDirectory { directory in
            let pair = try CurveKeyPair.generate()
            let paths = try pair.save(directory: directory, name: "worker-1")
            #expect(paths.publicKey.hasSuffix("/worker-1.key"))
            #expect(paths.secretKey.hasSuffix("/worker-1.key_secret"))
            #expect(try CurveKeyPair.load(secretKeyFile: paths.secretKey) == pair)
            #expect(try CurveKey.load(publicKeyFile: paths.publicKey) == pair.publicKey)
            let publicText = try String(contentsOfFile: paths.publicKey, encoding: .utf8)
            #expect(!publicText.contains(pair.secretKey.z85))
            #expect(publicText.contains("public-key = \"\(pair.publicKey.z85)\""))

            let attributes = try FileManager.default.attributesOfItem(atPath: paths.secretKey)
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)

            let error = #expect(throws: CurveKeyError.self) {
                try CurveKeyPair.generate().save(directory: directory, name: "worker-1")
            }
            #expect(error?.path == paths.secretKey)
            #expect(try CurveKeyPair.load(secretKeyFile: paths.secretKey) == pair)  // untouched

            let replacement = try CurveKeyPair.generate()
            try replacement.save(directory: directory, name: "worker-1", overwrite: true)
            #expect(try CurveKeyPair.load(secretKeyFile: paths.secretKey) == replacement)
            let replaced = try FileManager.default.attributesOfItem(atPath: paths.secretKey)
            #expect((replaced[.posixPermissions] as? NSNumber)?.intValue == 0o600)

            #expect(throws: CurveKeyError.self) { try pair.save(directory: directory, name: "../escape") }
        }
    }

    @Test("malformed key files are rejected with the file (and line) named")
    func malformedKeyFiles() throws {
        try withTemporaryDirectory { directory in
            let cases: [(String, String)] = [
                ("short.key", "curve\n    public-key = \"abc\"\n"),
                ("garbage.key", "metadata\nthis is not a key file\n"),
                ("empty.key", "# nothing here\n"),
                (
                    "twice.key",
                    "public-key = \"HelloWorldHelloWorldHelloWorldHelloWorld\"\n"
                        + "public-key = \"HelloWorldHelloWorldHelloWorldHelloWorld\"\n"
                ),
            ]
            for (name, text) in cases {
                let path = "\(directory)/\(name)"
                try text.write(toFile: path, atomically: true, encoding: .utf8)
                let error = #expect(throws: CurveKeyError.self, "\(name)") { try CurveKey.load(publicKeyFile: path) }
                #expect(error?.path == path)
                #expect(error?.description.hasPrefix(path) == true)
            }
            let garbage = #expect(throws: CurveKeyError.self) {
                try CurveKey.load(publicKeyFile: "\(directory)/garbage.key")
            }
            #expect(garbage?.line == 2)
            // A public file is not a secret file.
            let pair = try CurveKeyPair.generate()
            let paths = try pair.save(directory: directory, name: "solo")
            #expect(throws: CurveKeyError.self) { try CurveKeyPair.load(secretKeyFile: paths.publicKey) }
            #expect(throws: CurveKeyError.self) { try CurveKey.load(publicKeyFile: "\(directory)/missing.key") }
        }
    }
}

/// A CURVE ROUTER server on TCP with a ZAP allow-list holding one client, `worker-7`.
struct CurveFixture {
    let serverKeys = try! CurveKeyPair.generate()
    let allowedClient = try! CurveKeyPair.generate()
    let unknownClient = try! CurveKeyPair.generate()
}

@Suite("CURVE with the ZAP allow-list")
struct CurveTests {
    let keys = CurveFixture()

    /// Starts ZAP + server in `context`, runs `body` with the server socket and its endpoint.
    func withServer(
        _ context: ZMQContext, decisions: Box<[ZAPDecision]>,
        _ body: (borrowing ZMQSocket, String, ZAPAuthenticator) throws -> Void
    ) throws {
        try withTemporaryDirectory { directory in
            try keys.allowedClient.save(directory: directory, name: "worker-7")
            try keys.serverKeys.save(directory: directory, name: "secret-only")
            try FileManager.default.removeItem(atPath: directory + "/secret-only.key")  // .key_secret is not listed
            let authenticator = try ZAPAuthenticator(context: context, allowListDirectory: directory) { decision in
                decisions.update { $0.append(decision) }
            }
            #expect(authenticator.allowedNames == ["worker-7"])
            let server = try ZMQSocket(context, type: .router)
            try server.configureCurveServer(keyPair: keys.serverKeys)
            try server.bind("tcp://127.0.0.1:*")
            try body(server, try server.lastEndpoint, authenticator)
            authenticator.stop()
        }
    }

    @Test("an allow-listed client gets through and its User-Id is its key name")
    func acceptedKey() throws {
        let context = try ZMQContext()
        let decisions = Box<[ZAPDecision]>([])
        try withServer(context, decisions: decisions) { server, endpoint, _ in
            let client = try ZMQSocket(context, type: .dealer)
            try client.set(.routingID, bytes("claims-to-be-someone-else"))
            try client.configureCurveClient(keyPair: keys.allowedClient, serverKey: keys.serverKeys.publicKey)
            try client.connect(endpoint)
            try client.send([bytes("hello")])
            let message = try #require(try server.receiveWithMetadata(timeoutMilliseconds: patience))
            #expect(message.frames == [bytes("claims-to-be-someone-else"), bytes("hello")])
            #expect(message.userID == "worker-7")
            #expect(message.peerAddress == "127.0.0.1")
            #expect(decisions.value.first?.accepted == true)
            #expect(decisions.value.first?.clientKey == keys.allowedClient.publicKey)
        }
    }

    @Test("a client key not on the allow-list is refused: nothing arrives")
    func rejectedKey() throws {
        let context = try ZMQContext()
        let decisions = Box<[ZAPDecision]>([])
        try withServer(context, decisions: decisions) { server, endpoint, _ in
            let client = try ZMQSocket(context, type: .dealer)
            try client.configureCurveClient(keyPair: keys.unknownClient, serverKey: keys.serverKeys.publicKey)
            try client.connect(endpoint)
            try client.send([bytes("let me in")])
            #expect(eventually { !decisions.value.isEmpty })
            #expect(decisions.value.first?.accepted == false)
            #expect(decisions.value.first?.clientKey == keys.unknownClient.publicKey)
            #expect(try server.receive(timeoutMilliseconds: 500) == nil)
        }
    }

    /// What lets a worker say "the coordinator refused my key" instead of reconnecting forever (issue 15).
    @Test("a refused client learns it from its socket monitor: HANDSHAKE_FAILED_AUTH with ZAP status 400")
    func refusedClientSeesTheAuthFailure() throws {
        let context = try ZMQContext()
        let decisions = Box<[ZAPDecision]>([])
        try withServer(context, decisions: decisions) { _, endpoint, _ in
            func events(_ pair: CurveKeyPair) throws -> [ZMQMonitorEvent.Kind] {
                let client = try ZMQSocket(context, type: .dealer)
                try client.set(.linger, 0)
                try client.configureCurveClient(keyPair: pair, serverKey: keys.serverKeys.publicKey)
                let monitor = try client.monitor()
                try client.connect(endpoint)
                var seen: [ZMQMonitorEvent] = []
                // A bound against hangs only (the loop ends at the first handshake outcome): generous for a loaded CI.
                let deadline = Date().addingTimeInterval(4 * Double(patience) / 1000)
                while Date() < deadline {
                    guard let event = try monitor.nextEvent(timeoutMilliseconds: 50) else { continue }
                    seen.append(event)
                    if case .handshakeFailedAuth = event.kind { #expect(event.value == 400) }
                    if [.handshakeFailedAuth, .handshakeSucceeded].contains(event.kind) { break }
                }
                // Used after the wait, so the optimiser cannot end the (noncopyable) socket's life at `connect`.
                try client.set(.linger, 0)
                return seen.map(\.kind)
            }
            let refused = try events(keys.unknownClient)
            #expect(refused.contains(.handshakeFailedAuth), "\(refused)")
            #expect(!refused.contains(.handshakeSucceeded))
            let admitted = try events(keys.allowedClient)
            #expect(admitted.contains(.handshakeSucceeded), "\(admitted)")
            #expect(!admitted.contains(.handshakeFailedAuth))
        }
    }

    @Test("a client with the wrong server key never gets a message through")
    func wrongServerKey() throws {
        let context = try ZMQContext()
        let decisions = Box<[ZAPDecision]>([])
        try withServer(context, decisions: decisions) { server, endpoint, _ in
            let impostor = try CurveKeyPair.generate()
            let client = try ZMQSocket(context, type: .dealer)
            try client.configureCurveClient(keyPair: keys.allowedClient, serverKey: impostor.publicKey)
            try client.connect(endpoint)
            try client.send([bytes("hello")])
            #expect(try server.receive(timeoutMilliseconds: 1000) == nil)
            #expect(decisions.value.allSatisfy { !$0.accepted })  // the handshake fails before ZAP
        }
    }

    @Test("reload picks up a newly allow-listed key")
    func reload() throws {
        try withTemporaryDirectory { directory in
            let context = try ZMQContext()
            let authenticator = try ZAPAuthenticator(context: context, allowListDirectory: directory)
            #expect(authenticator.allowedNames.isEmpty)
            try keys.allowedClient.save(directory: directory, name: "late-worker")
            try authenticator.reload()
            #expect(authenticator.allowedNames == ["late-worker"])
            try "broken".write(toFile: "\(directory)/bad.key", atomically: true, encoding: .utf8)
            let error = #expect(throws: CurveKeyError.self) { try authenticator.reload() }
            #expect(error?.path?.hasSuffix("bad.key") == true)
            #expect(authenticator.allowedNames == ["late-worker"])  // old list stays in force
        }
    }

    @Test("a second authenticator in the same context fails; one stops cleanly on context shutdown")
    func lifecycle() throws {
        let context = try ZMQContext()
        let authenticator = try ZAPAuthenticator(context: context, allowListDirectory: nil)
        let error = #expect(throws: ZMQError.self) {
            _ = try ZAPAuthenticator(context: context, allowListDirectory: nil)
        }
        #expect(error?.call == "zmq_bind(inproc://zeromq.zap.01)")
        context.shutdown()
        let stopped = startThread { authenticator.stop() }
        #expect(wait(stopped))
    }
}
