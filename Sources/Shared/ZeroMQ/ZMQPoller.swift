internal import CZeroMQ

/// Waits until any of a fixed set of sockets is readable. Same thread rule as the sockets it polls.
public struct ZMQPoller {
    private var items: [zmq_pollitem_t]

    public init(_ sockets: [ZMQSocket]) {
        items = sockets.map { zmq_pollitem_t(socket: $0.handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0) }
    }

    /// Waits up to `timeoutMilliseconds` (-1: forever).
    /// - Returns: for each socket in the order given, whether a message is waiting on it.
    public mutating func poll(timeoutMilliseconds: Int) throws(ZMQError) -> [Bool] {
        let count = Int32(items.count)
        let timeout = timeoutMilliseconds
        _ = try items.withUnsafeMutableBufferPointer { (buffer) throws(ZMQError) in
            try zmqCall("zmq_poll") { zmq_poll(buffer.baseAddress, count, timeout) }
        }
        return items.map { ($0.revents & Int16(ZMQ_POLLIN)) != 0 }
    }
}
