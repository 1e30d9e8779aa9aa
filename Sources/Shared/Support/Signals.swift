import Dispatch
import Foundation

/// Runs a handler when SIGTERM or SIGINT arrives, on a Dispatch queue (never in signal context), so a
/// long-running process can shut down gracefully. Keep the returned value alive for as long as it should apply.
public final class TerminationSignals {
    private let sources: [any DispatchSourceSignal]

    public init(_ handler: @escaping @Sendable (Int32) -> Void) {
        let queue = DispatchQueue(label: "pumasi.signals")
        sources = [SIGTERM, SIGINT].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { handler(number) }
            source.resume()
            return source
        }
    }

    deinit { sources.forEach { $0.cancel() } }
}
