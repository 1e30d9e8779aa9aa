import Foundation
import PumasiBroker

@main
struct BrokerMain {
    static func main() {
        exit(BrokerCLI.main(Array(CommandLine.arguments.dropFirst())))
    }
}
