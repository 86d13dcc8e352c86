import Foundation
import LotteryCore
import LotteryWire
import Logging
import MaskCodec
import ZeroMQ

// Connections that never became a peer: the socket monitor's handshake failures, logged with their address.
extension CoordinatorLoop {
    /// Logs connections that never became a ZeroMQ peer (failed or timed-out handshakes) with their address; a
    /// garbage-speaking client is dropped by libzmq and every other connection is unaffected.
    func drainConnectionEvents() {
        do {
            var handled = 0
            while handled < 256, let event = try monitor.nextEvent(timeoutMilliseconds: 0) {
                handled += 1
                switch event.kind {
                case .accepted:
                    connections[event.value] = Self.peerAddress(fileDescriptor: Int32(bitPattern: event.value))
                case .handshakeFailedNoDetail:
                    let reason = event.value == 0 ? "closed" : String(cString: strerror(Int32(bitPattern: event.value)))
                    handshakeFailure = (
                        "it closed or stalled without completing a ZeroMQ handshake (\(reason)); not a LotteryTickets worker",
                        false
                    )
                case .handshakeFailedProtocol:
                    handshakeFailure = (
                        "ZeroMQ protocol error 0x\(String(event.value, radix: 16)) in the handshake: the peer does not speak ZMTP",
                        false
                    )
                case .handshakeFailedAuth:
                    handshakeFailure = ("CURVE authentication failed (ZAP status \(event.value))", true)
                case .disconnected:
                    let peer = connections.removeValue(forKey: event.value) ?? "an unknown address"
                    if let failure = handshakeFailure {
                        say(.warning, "dropped the connection from \(peer): \(failure.text)")
                        handshakeFailure = nil
                        // A ZAP refusal is journaled by the ZAP handler, with the key it refused.
                        if !failure.auth {
                            journalRefusal(
                                PeerRefusal(
                                    peer: PeerRefusal.withoutPort(peer), kind: .handshakeFailed, reason: failure.text))
                        }
                    } else {
                        logger.debug("connection from \(peer) closed")
                    }
                default:
                    break
                }
            }
        } catch let error as ZMQError where error.kind == .terminated {
            return
        } catch {
            logger.debug("socket monitor: \(error)")
        }
    }

    /// `ip:port` of a connected TCP socket (`getpeername`), or "?".
    static func peerAddress(fileDescriptor fd: Int32) -> String {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) }
        }
        guard ok == 0 else { return "?" }
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        var service = [CChar](repeating: 0, count: Int(NI_MAXSERV))
        let status = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                getnameinfo(
                    $0, length, &host, socklen_t(host.count), &service, socklen_t(service.count),
                    NI_NUMERICHOST | NI_NUMERICSERV)
            }
        }
        guard status == 0 else { return "?" }
        return "\(String(cString: host)):\(String(cString: service))"
    }
}
