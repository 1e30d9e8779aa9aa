import Foundation
import PumasiBroker
import PumasiShared

@main
struct BrokerMain {
    static func main() {
        // First, before any thread starts: SIGTERM and SIGINT must never take the default action.
        let signals = TerminationSignals()
        exit(BrokerCLI.main(Array(CommandLine.arguments.dropFirst()), signals: signals))
    }
}
