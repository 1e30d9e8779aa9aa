import Foundation

/// Wakes a thread blocked in a poll loop and asks it to stop, from any thread.
///
/// The loop's owner calls `makeReceiver()` once on its own thread and polls the socket it returns; any
/// thread may call `fire()` (a signal handler's queue, a test), any number of times.
public struct ZMQStopSignal: Sendable {
    public let context: ZMQContext
    public let endpoint: String

    public init(context: ZMQContext) {
        self.context = context
        endpoint = "inproc://pumasi-stop-\(UUID().uuidString)"
    }

    /// The receiving socket, bound; poll it and call `received(on:)` when it is readable.
    public func makeReceiver() throws(ZMQError) -> ZMQSocket {
        let socket = try ZMQSocket(context, .pull)
        try socket.bind(endpoint)
        return socket
    }

    /// Drains the receiver. - Returns: whether a stop was asked for.
    public func received(on socket: ZMQSocket) -> Bool {
        var asked = false
        while let message = try? socket.receive(dontWait: true) {
            if message.frames.first == Data("STOP".utf8) { asked = true }
        }
        return asked
    }

    /// Asks the owner of the receiver to stop.
    public func fire() {
        guard let socket = try? ZMQSocket(context, .push, linger: 1_000) else { return }
        guard (try? socket.connect(endpoint)) != nil else { return }
        _ = try? socket.send(strings: ["STOP"])
    }
}
