internal import CZeroMQ
import Glibc

/// An error reported by libzmq: the failing operation, its errno and libzmq's message for it.
public struct ZMQError: Error, CustomStringConvertible, Equatable, Sendable {
    public let code: Int32
    public let operation: String
    public let message: String

    /// Reads `zmq_errno()` right after a failing call.
    static func last(_ operation: String) -> ZMQError {
        let code = zmq_errno()
        return ZMQError(code: code, operation: operation, message: String(cString: zmq_strerror(code)))
    }

    public var description: String { "\(operation): \(message) (errno \(code))" }

    /// The peer is not (or no longer) connected to a ROUTER socket with `ROUTER_MANDATORY`.
    public var isHostUnreachable: Bool { code == EHOSTUNREACH }
    /// A non-blocking call found nothing to do: a result, never a failure.
    public var isWouldBlock: Bool { code == EAGAIN }
    /// The context was terminated while the call was waiting.
    public var isTerminated: Bool { code == ETERM }
}

/// Runs a libzmq call, retrying on EINTR, and turns -1 into a `ZMQError`.
@discardableResult
func zmqCall(_ operation: @autoclosure () -> String, _ body: () -> Int32) throws(ZMQError) -> Int32 {
    while true {
        let rc = body()
        if rc != -1 { return rc }
        let error = ZMQError.last(operation())
        if error.code == EINTR { continue }
        throw error
    }
}
