import Foundation
import PumasiShared
import PumasiWorker

@main
struct WorkerMain {
    static func main() {
        // First, before any thread starts: SIGTERM and SIGINT must never take the default action.
        let signals = TerminationSignals()
        exit(PumasiCLI.main(Array(CommandLine.arguments.dropFirst()), signals: signals))
    }
}
