import PumasiShared

/// What a client socket's monitor events say about its connection to the broker, so that a request fails at once
/// with its cause instead of after the whole timeout: a refused key, a failed handshake, nobody listening, or a
/// connection closed under a pending request.
///
/// A value fed with the events (`on(_:now:)`) and the clock (`check(now:)`); it needs no socket, so its rules are
/// tested without one (`ConnectionWatchTests`). The rules:
/// - the broker's ZAP handler refusing the key, and any other failed handshake, end the request at once: trying
///   again with the same keys cannot help; except that a handshake failed without detail (the broker closed the
///   connection: it holds another key, or it was stopping) ends it only the second time in a row, after libzmq
///   has connected again (found from outside: a broker restarting told clients their key for it was wrong);
/// - with one endpoint, connections refused (retried again and again) for `refusalGrace` with none made end it as
///   "nobody answers";
///   with several (brokers of which one is active), refusals are normal and only the timeout ends the wait;
/// - a disconnection while a request is pending ends it if a connection had completed its handshake since it was
///   queued (or before): the request went out over it and is lost with it (the broker stopped, or dropped a
///   message over its size limit). One queued before any connection waits for the next;
/// - otherwise the timeout ends it, as "no reply" when a handshake had succeeded and "no connection" when not.
public struct ConnectionWatch: Sendable {
    /// Why the wait for a reply ended early.
    public enum Verdict: Sendable, Equatable {
        /// The broker refused the client's key; the ZAP status code (400 denied, 300 or 500 a failure to check).
        case keyRefused(status: Int)
        /// The security handshake failed; whether the two sides use different mechanisms (CURVE and none).
        case handshakeFailed(mechanismMismatch: Bool, detail: String)
        /// Every connection attempt was refused.
        case refused
        /// The connection closed while the request was pending.
        case disconnected
    }

    public let endpointCount: Int
    /// How long connections may be refused before the request fails, in nanoseconds.
    public let refusalGrace: UInt64
    /// Whether a handshake has succeeded since the last disconnection: the socket can carry a request.
    public private(set) var ready = false
    /// Whether a handshake ever succeeded on this socket.
    public private(set) var everReady = false
    /// Whether connection attempts were refused (retried, again and again) since the last connection.
    public private(set) var refusing = false
    private var firstRefusal: UInt64?
    /// Connection attempts retried since the last connection.
    private var retries = 0
    /// Handshakes failed without detail since the last that succeeded.
    private var failuresWithoutDetail = 0
    /// Whether a request is pending, and whether it has gone out over a completed connection.
    private var pendingOnReadySocket: Bool?

    public init(endpointCount: Int, refusalGrace: UInt64 = 1_000_000_000) {
        self.endpointCount = endpointCount
        self.refusalGrace = refusalGrace
    }

    /// A request was queued on the socket; the verdicts that concern a pending request apply until `finished`.
    public mutating func sent() { pendingOnReadySocket = ready }

    /// The request got its reply, or was given up.
    public mutating func finished() { pendingOnReadySocket = nil }

    /// One monitor event. - Returns: a verdict that ends the pending request, if any.
    public mutating func on(_ event: ZMQMonitor.Event, now: UInt64) -> Verdict? {
        switch event.kind {
        case .connected:
            retries = 0
            refusing = false
            firstRefusal = nil
        case .retried:
            // A connection that closes (a failed handshake) is retried once before it connects again; only a
            // retry after a retry, with no connection between, is a refusal.
            retries += 1
            if retries >= 2, firstRefusal == nil {
                refusing = true
                firstRefusal = now
            }
        case .handshakeSucceeded:
            failuresWithoutDetail = 0
            ready = true
            if pendingOnReadySocket != nil { pendingOnReadySocket = true }
            everReady = true
        case .disconnected:
            let wasReady = ready
            ready = false
            if wasReady, pendingOnReadySocket == true { return .disconnected }
        case .authenticationFailed:
            return .keyRefused(status: Int(event.value))
        case .handshakeFailed:
            if event.isWithoutDetail {
                failuresWithoutDetail += 1
                if failuresWithoutDetail < 2 { return nil }
            }
            return .handshakeFailed(mechanismMismatch: event.isMechanismMismatch, detail: event.handshakeProblem)
        case .other:
            break
        }
        return nil
    }

    /// The verdict the clock gives: connections refused for longer than the grace, with one endpoint.
    public func check(now: UInt64) -> Verdict? {
        guard endpointCount <= 1, !ready, refusing, let firstRefusal, now >= firstRefusal + refusalGrace else {
            return nil
        }
        return .refused
    }
}
