import Foundation
import Testing
import ZeroMQ

@Suite("Sockets: round trips, frames, timeouts, limits")
struct SocketTests {
    @Test(
        "ROUTER/DEALER round trip with the dealer's routing id",
        arguments: ["inproc://router-dealer", "tcp://127.0.0.1:*"])
    func routerDealerRoundTrip(endpoint: String) throws {
        let context = try ZMQContext()
        let router = try ZMQSocket(context, type: .router)
        try router.bind(endpoint)
        let dealer = try ZMQSocket(context, type: .dealer)
        try dealer.set(.routingID, bytes("worker-1"))
        #expect(try dealer.get(.routingID) == bytes("worker-1"))
        try dealer.connect(router.lastEndpoint)

        try dealer.send([bytes("READY"), bytes("1")])
        let request = try #require(try router.receive(timeoutMilliseconds: patience))
        #expect(request == [bytes("worker-1"), bytes("READY"), bytes("1")])

        try router.send([request[0], bytes("TASK"), bytes("trial-42")])
        let reply = try #require(try dealer.receive(timeoutMilliseconds: patience))
        #expect(reply == [bytes("TASK"), bytes("trial-42")])
    }

    @Test("multipart messages keep empty frames in place")
    func emptyFrames() throws {
        let context = try ZMQContext()
        let a = try ZMQSocket(context, type: .pair)
        try a.bind("inproc://empty-frames")
        let b = try ZMQSocket(context, type: .pair)
        try b.connect("inproc://empty-frames")
        let message: [[UInt8]] = [[], [1], [], [2, 3], []]
        try a.send(message)
        try a.send([[]])
        #expect(try b.receive(timeoutMilliseconds: patience) == message)
        #expect(try b.receive(timeoutMilliseconds: patience) == [[]])
    }

    @Test("8 MiB frames arrive byte for byte over TCP")
    func largeFrames() throws {
        let context = try ZMQContext()
        let pull = try ZMQSocket(context, type: .pull)
        try pull.bind("tcp://127.0.0.1:*")
        let push = try ZMQSocket(context, type: .push)
        try push.connect(pull.lastEndpoint)
        let size = 8 << 20
        let big = (0..<size + 3).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 11) }
        let second = [UInt8](big.reversed())
        try push.send([big, [], second])
        let received = try #require(try pull.receive(timeoutMilliseconds: 4 * patience))
        #expect(received.count == 3)
        #expect(received.first == big)
        #expect(received.last == second)
    }

    @Test("receive with a timeout returns nil when nothing comes")
    func receiveTimeout() throws {
        let context = try ZMQContext()
        let pull = try ZMQSocket(context, type: .pull)
        try pull.bind("inproc://silence")
        let start = Date()
        #expect(try pull.receive(timeoutMilliseconds: 50) == nil)
        #expect(try pull.receive(timeoutMilliseconds: 0) == nil)
        #expect(Date().timeIntervalSince(start) < Double(patience) / 1000)
    }

    @Test("RCVTIMEO makes a blocking receive fail with .wouldBlock")
    func receiveTimeoutOption() throws {
        let context = try ZMQContext()
        let pull = try ZMQSocket(context, type: .pull)
        try pull.set(.receiveTimeout, 20)
        #expect(try pull.get(.receiveTimeout) == 20)
        try pull.bind("inproc://rcvtimeo")
        let error = #expect(throws: ZMQError.self) { try pull.receive() }
        #expect(error?.kind == .wouldBlock)
    }

    @Test("MAXMSGSIZE drops an oversize sender's connection; other peers still get through")
    func maxMessageSize() throws {
        let context = try ZMQContext()
        let router = try ZMQSocket(context, type: .router)
        try router.set(.maxMessageSize, 1024)
        #expect(try router.get(.maxMessageSize) == 1024)
        try router.bind("tcp://127.0.0.1:*")
        let endpoint = try router.lastEndpoint

        let greedy = try ZMQSocket(context, type: .dealer)
        try greedy.set(.reconnectInterval, -1)  // stay disconnected once dropped
        try greedy.connect(endpoint)
        try greedy.send([[UInt8](repeating: 7, count: 4096)])
        #expect(try router.receive(timeoutMilliseconds: 500) == nil)

        let polite = try ZMQSocket(context, type: .dealer)
        try polite.connect(endpoint)
        try polite.send([[UInt8](repeating: 1, count: 1000)])
        let message = try #require(try router.receive(timeoutMilliseconds: patience))
        #expect(message.count == 2)
        #expect(message.last == [UInt8](repeating: 1, count: 1000))
        #expect(try router.receive(timeoutMilliseconds: 200) == nil)  // the big one never shows up
    }

    @Test("ROUTER_MANDATORY to an unknown peer throws .hostUnreachable")
    func routerMandatory() throws {
        let context = try ZMQContext()
        let router = try ZMQSocket(context, type: .router)
        try router.set(.routerMandatory, true)
        try router.bind("inproc://mandatory")
        let error = #expect(throws: ZMQError.self) {
            try router.send([bytes("nobody"), bytes("TASK")])
        }
        #expect(error?.kind == .hostUnreachable)
        #expect(error?.description.contains("zmq_msg_send") == true)
    }

    @Test("errors name the call and endpoint")
    func errorDescription() throws {
        let context = try ZMQContext()
        let socket = try ZMQSocket(context, type: .pull)
        let error = #expect(throws: ZMQError.self) { try socket.bind("nonsense://x") }
        #expect(error?.call == "zmq_bind(nonsense://x)")
        #expect(error?.kind == .other)
        #expect(error?.message.isEmpty == false)
    }

    @Test("options read back what was set")
    func options() throws {
        let context = try ZMQContext()
        let socket = try ZMQSocket(context, type: .router)
        #expect(try socket.get(.linger) == 0)  // the wrapper's default
        try socket.set(.sendHighWaterMark, 50)
        try socket.set(.receiveHighWaterMark, 60)
        try socket.set(.heartbeatInterval, 1000)
        try socket.set(.heartbeatTimeout, 3000)
        try socket.set(.handshakeInterval, 2000)
        try socket.set(.immediate, true)
        try socket.set(.zapDomain, "lth")
        #expect(try socket.get(.sendHighWaterMark) == 50)
        #expect(try socket.get(.receiveHighWaterMark) == 60)
        #expect(try socket.get(.heartbeatInterval) == 1000)
        #expect(try socket.get(.heartbeatTimeout) == 3000)
        #expect(try socket.get(.handshakeInterval) == 2000)
        #expect(try socket.get(.immediate) == true)
        #expect(try socket.get(.zapDomain) == "lth")
        try socket.bind("tcp://127.0.0.1:*")
        let endpoint = try socket.lastEndpoint
        #expect(endpoint.hasPrefix("tcp://127.0.0.1:"))
        #expect(!endpoint.hasSuffix(":*"))
        try socket.unbind(endpoint)
    }
}

@Suite("Polling and shutdown")
struct PollAndShutdownTests {
    @Test("poll over two sockets reports only the one with a message")
    func pollTwoSockets() throws {
        let context = try ZMQContext()
        let first = try ZMQSocket(context, type: .pull)
        try first.bind("inproc://poll-first")
        let second = try ZMQSocket(context, type: .pull)
        try second.bind("inproc://poll-second")
        let push = try ZMQSocket(context, type: .push)
        try push.connect("inproc://poll-second")

        var poller = ZMQPoller()
        let firstIndex = poller.add(first)
        let secondIndex = poller.add(second)
        #expect(try poller.poll(timeoutMilliseconds: 0).isEmpty)
        try push.send([bytes("hi")])
        #expect(try poller.poll(timeoutMilliseconds: patience) == [secondIndex])
        #expect(try second.receive(timeoutMilliseconds: 0) == [bytes("hi")])
        #expect(try poller.poll(timeoutMilliseconds: 10).isEmpty)
        #expect(firstIndex != secondIndex)
    }

    @Test("poll watches a plain file descriptor too")
    func pollFileDescriptor() throws {
        let context = try ZMQContext()
        let socket = try ZMQSocket(context, type: .pull)
        try socket.bind("inproc://poll-fd")
        let pipe = Pipe()
        var poller = ZMQPoller()
        _ = poller.add(socket)
        let fdIndex = poller.add(fileDescriptor: pipe.fileHandleForReading.fileDescriptor)
        #expect(try poller.poll(timeoutMilliseconds: 0).isEmpty)
        pipe.fileHandleForWriting.write(Data([1]))
        #expect(try poller.poll(timeoutMilliseconds: patience) == [fdIndex])
    }

    @Test("shutdown wakes a receiver blocked in another thread with .terminated")
    func shutdownWakesBlockedReceiver() throws {
        let context = try ZMQContext()
        let ready = DispatchSemaphore(value: 0)
        let outcome = Box<ZMQError.Kind?>(nil)
        let done = startThread {
            do {
                let socket = try ZMQSocket(context, type: .pull)
                try socket.bind("inproc://blocked")
                ready.signal()
                _ = try socket.receive()  // blocks until shutdown
            } catch let error as ZMQError {
                outcome.value = error.kind
            } catch {}
            ready.signal()
        }
        #expect(wait(ready))
        context.shutdown()
        #expect(wait(done))
        #expect(outcome.value == .terminated)
        // New sockets fail the same way after shutdown.
        let error = #expect(throws: ZMQError.self) { _ = try ZMQSocket(context, type: .pair) }
        #expect(error?.kind == .terminated)
    }

    @Test("shutdown wakes a thread waiting in poll or a timed receive")
    func shutdownWakesPoll() throws {
        let context = try ZMQContext()
        let ready = DispatchSemaphore(value: 0)
        let outcome = Box<ZMQError.Kind?>(nil)
        let done = startThread {
            do {
                let socket = try ZMQSocket(context, type: .dealer)
                try socket.connect("tcp://127.0.0.1:1")  // never answers
                ready.signal()
                _ = try socket.receive(timeoutMilliseconds: 60_000)
            } catch let error as ZMQError {
                outcome.value = error.kind
            } catch {}
        }
        #expect(wait(ready))
        Thread.sleep(forTimeInterval: 0.05)
        context.shutdown()
        #expect(wait(done))
        #expect(outcome.value == .terminated)
    }
}

@Suite("Socket monitor")
struct MonitorTests {
    @Test("a monitored ROUTER reports the accepted connection, its handshake and its disconnect")
    func monitorEvents() throws {
        let context = try ZMQContext()
        let router = try ZMQSocket(context, type: .router)
        let monitor = try router.monitor()
        try router.bind("tcp://127.0.0.1:*")
        let endpoint = try router.lastEndpoint

        func waitFor(_ kind: ZMQMonitorEvent.Kind) throws -> ZMQMonitorEvent? {
            let end = Date().addingTimeInterval(Double(patience) / 1000)
            while Date() < end {
                if let event = try monitor.nextEvent(timeoutMilliseconds: 100), event.kind == kind { return event }
            }
            return nil
        }
        #expect(try waitFor(.listening)?.endpoint == endpoint)
        do {
            let dealer = try ZMQSocket(context, type: .dealer)
            try dealer.connect(endpoint)
            #expect(try waitFor(.accepted) != nil)
            #expect(try waitFor(.handshakeSucceeded) != nil)
        }  // the dealer closes here
        #expect(try waitFor(.disconnected) != nil)
    }
}
