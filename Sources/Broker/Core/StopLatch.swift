import PumasiShared
import Synchronization

/// A stop asked for by a signal, before or after the broker it stops exists: a standby waiting for the store's lock
/// reads `isFired`; a running broker gets its `ZMQStopSignal` fired, at once if the stop came first.
final class StopLatch: Sendable {
    private let state = Mutex<(fired: Bool, signal: ZMQStopSignal?)>((false, nil))

    var isFired: Bool { state.withLock { $0.fired } }

    func fire() {
        let signal = state.withLock { state -> ZMQStopSignal? in
            state.fired = true
            return state.signal
        }
        signal?.fire()
    }

    /// From now on a stop fires `signal` (at once, if one came already).
    func attach(_ signal: ZMQStopSignal) {
        let fired = state.withLock { state -> Bool in
            state.signal = signal
            return state.fired
        }
        if fired { signal.fire() }
    }
}
