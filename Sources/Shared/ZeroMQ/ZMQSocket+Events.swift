internal import CZeroMQ
import Glibc

extension ZMQSocket {
    /// The file descriptor libzmq signals when this socket's events may have changed (`ZMQ_FD`), for an `epoll`
    /// over thousands of sockets, where `zmq_poll` would cost a pass over all of them per call.
    ///
    /// It is a signal, not a readiness flag: it says "look", and is cleared by any operation on the socket (a send
    /// included). So a caller reads `hasInput` (or receives until nothing is left) after it fires, and after each
    /// send on the socket, before waiting again. The descriptor belongs to the socket: never read or close it.
    public var fileDescriptor: Int32 {
        get throws(ZMQError) {
            var fd: Int32 = -1
            var size = MemoryLayout<Int32>.size
            try zmqCall("getsockopt(FD)") { zmq_getsockopt(handle, ZMQ_FD, &fd, &size) }
            return fd
        }
    }

    /// Whether a message is waiting to be received (`ZMQ_EVENTS` has `ZMQ_POLLIN`); reading it processes the
    /// socket's pending commands and so rearms `fileDescriptor`.
    public var hasInput: Bool {
        get throws(ZMQError) {
            var events: Int32 = 0
            var size = MemoryLayout<Int32>.size
            try zmqCall("getsockopt(EVENTS)") { zmq_getsockopt(handle, ZMQ_EVENTS, &events, &size) }
            return events & Int32(ZMQ_POLLIN) != 0
        }
    }
}
