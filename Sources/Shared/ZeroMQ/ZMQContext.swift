internal import CZeroMQ
import Glibc

/// A libzmq context. Thread-safe; every socket keeps its context alive, so the context is terminated
/// only after its last socket has been closed.
public final class ZMQContext: @unchecked Sendable {
    // @unchecked Sendable: a libzmq context is documented as thread-safe; the handle never changes.
    let handle: UnsafeMutableRawPointer

    public init() throws(ZMQError) {
        guard let handle = zmq_ctx_new() else { throw ZMQError.last("zmq_ctx_new") }
        self.handle = handle
    }

    deinit {
        while zmq_ctx_term(handle) == -1 && zmq_errno() == EINTR {}
    }

    /// Makes every blocking call on this context's sockets return ETERM, without closing them.
    public func shutdown() { zmq_ctx_shutdown(handle) }

    /// libzmq's version as `major.minor.patch`.
    public static var version: String {
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        zmq_version(&major, &minor, &patch)
        return "\(major).\(minor).\(patch)"
    }

    /// Whether libzmq was built with a capability such as `"curve"`.
    public static func has(_ capability: String) -> Bool { zmq_has(capability) != 0 }
}
