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

    /// A context sized for many sockets: `ioThreads` background I/O threads and room for `maxSockets` sockets
    /// (libzmq's default is 1,023; a crowd of simulated clients in one process needs more). Both are set before
    /// any socket exists, as libzmq requires.
    public convenience init(ioThreads: Int, maxSockets: Int) throws(ZMQError) {
        try self.init()
        try zmqCall("zmq_ctx_set(IO_THREADS)") { zmq_ctx_set(handle, ZMQ_IO_THREADS, Int32(clamping: ioThreads)) }
        try zmqCall("zmq_ctx_set(MAX_SOCKETS)") { zmq_ctx_set(handle, ZMQ_MAX_SOCKETS, Int32(clamping: maxSockets)) }
    }

    /// How many sockets this context allows at once (`ZMQ_MAX_SOCKETS`).
    public var maxSockets: Int { Int(zmq_ctx_get(handle, ZMQ_MAX_SOCKETS)) }

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
