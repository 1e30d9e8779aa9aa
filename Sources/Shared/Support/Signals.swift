import Foundation

/// Turns SIGTERM and SIGINT into a call of a handler on an ordinary thread, so a long-running process can
/// shut down gracefully.
///
/// Create it first thing in `main`, before any other thread starts: it blocks both signals in the calling
/// thread, every thread created afterwards inherits that mask, and one dedicated thread takes them with
/// `sigwait`. So no signal is lost or takes the default action, however early it arrives: one that comes
/// before a handler is set is remembered and handed to the handler when it is set.
public final class TerminationSignals: @unchecked Sendable {
    // @unchecked Sendable: `handler` and `pending` are only touched under `lock`.
    private let lock = NSLock()
    private var handler: (@Sendable (Int32) -> Void)?
    private var pending: Int32?

    public init() {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        pthread_sigmask(SIG_BLOCK, &set, nil)
        let waited = set
        let thread = Thread { [self] in
            nameCurrentThread("pumasi-signals")
            var set = waited
            while true {
                var number: Int32 = 0
                guard sigwait(&set, &number) == 0 else { continue }
                deliver(number)
            }
        }
        thread.start()
    }

    /// Sets what runs on SIGTERM or SIGINT (on the signal thread). A signal that already arrived runs it now.
    public func onTerminate(_ handler: @escaping @Sendable (Int32) -> Void) {
        lock.lock()
        self.handler = handler
        let early = pending
        pending = nil
        lock.unlock()
        if let early { handler(early) }
    }

    private func deliver(_ number: Int32) {
        lock.lock()
        let handler = self.handler
        if handler == nil { pending = number }
        lock.unlock()
        handler?(number)
    }
}
