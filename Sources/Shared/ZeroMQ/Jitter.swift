/// Spreads waits at random, so that many clients that wait for the same thing (a broker restarting, a busy reply)
/// do not all come back in the same millisecond.
///
/// libzmq reconnects a socket after `ZMQ_RECONNECT_IVL`, doubling up to `ZMQ_RECONNECT_IVL_MAX`, with no jitter:
/// 10,000 clients of a broker that restarts would all knock in step. `ZMQSocket.spreadReconnects()` gives each
/// socket its own interval instead.
public enum Jitter {
    /// `milliseconds` moved by up to `fraction` of itself either way (at least 1 ms when it is positive).
    public static func spread(_ milliseconds: Int64, by fraction: Double = 0.5) -> Int64 {
        guard milliseconds > 0 else { return 0 }
        let reach = Int64(Double(milliseconds) * min(max(fraction, 0), 1))
        return max(1, milliseconds + Int64.random(in: -reach...reach))
    }

    /// `milliseconds` plus up to `fraction` of itself more (never less: a busy reply's retry-after is the earliest
    /// time worth trying again), and at least 1 ms more, so that equal waits still part.
    public static func after(_ milliseconds: Int64, by fraction: Double = 0.25) -> Int64 {
        let base = max(0, milliseconds)
        return base + Int64.random(in: 1...max(1, Int64(Double(base) * max(fraction, 0))))
    }

    /// The first reconnect interval a socket waits: 100 ms spread by half either way.
    public static let reconnectInitial: Int64 = 100
    /// Where a socket's doubling reconnect interval stops. Kept short: a client listing several brokers keeps
    /// knocking at a standby's endpoint, which is bound only when that broker takes over, and must find it soon.
    public static let reconnectMax: Int64 = 1_000
}

extension ZMQSocket {
    /// Sets this socket's reconnect interval at random around `Jitter.reconnectInitial` (50–150 ms), doubling up to
    /// `Jitter.reconnectMax` give or take a fifth, so that the clients of a broker that restarts come back spread out, not at once.
    /// Call before `connect`.
    public func spreadReconnects() throws(ZMQError) {
        try setOption(.reconnectInterval, Int32(Jitter.spread(Jitter.reconnectInitial)))
        try setOption(.reconnectIntervalMax, Int32(Jitter.spread(Jitter.reconnectMax, by: 0.2)))
    }
}
