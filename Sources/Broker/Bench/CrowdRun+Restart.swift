import Foundation
import PumasiShared

extension CrowdRun {
    /// Stops the broker (SIGTERM by pid) and starts it again on the same directory and ports, with every client
    /// still connected, and times until each is served again: a relay has a `challenge.opened` posted after the
    /// start, an evaluator a heartbeat after its new READY (the new broker answers its heartbeat with DISCONNECT,
    /// and it sends READY again), a solver a reply to a request. Timed from the start of the new process.
    func restart() throws {
        let stopSeconds = broker.stop()
        fleet.forgetPending()
        fleet.resetServed()
        let overflows = Crowd.listenOverflows()
        let harnessCPU = harnessCPU()
        let started = WallClock.monotonicNanos()
        let ready = try broker.start()
        for solver in fleet.solvers { try fleet.probe(solver) }
        let limit = started + UInt64(max(60, config.clients / 200)) * 1_000_000_000
        var lastProbe = WallClock.monotonicNanos()
        func allServed() -> Bool {
            fleet.allRelaysOpened(since: started)
                && fleet.evaluators.allSatisfy { fleet.servedAt[$0] != 0 }
                && fleet.solvers.allSatisfy { fleet.servedAt[$0] != 0 }
        }
        // Bounded by `limit`: each pass posts one challenge and waits at most half a second. A request sent while
        // a connection was being made again can be lost with it: a solver not yet answered asks again each pass.
        while !allServed() && WallClock.monotonicNanos() < limit {
            // A post lost with the seeker's connection is posted again in the next pass.
            if !fleet.allRelaysOpened(since: started) {
                _ = try? post(deadline: WallClock.now() + 86_400_000, wait: 1)
            }
            if WallClock.monotonicNanos() - lastProbe > 500_000_000 {
                lastProbe = WallClock.monotonicNanos()
                for solver in fleet.solvers where fleet.servedAt[solver] == 0 { try fleet.probe(solver) }
            }
            try fleet.pump(seconds: 0.5, until: allServed)
        }
        func slowest(_ indices: [Int], _ times: [UInt64]) -> Double {
            indices.map { times[$0] >= started ? Double(times[$0] - started) / 1e9 : .infinity }.max() ?? 0
        }
        let opened = fleet.relayOpenedTimes
        let relays = slowest(Array(opened.indices), opened)
        let evaluators = slowest(fleet.evaluators, fleet.servedAt)
        let solvers = slowest(fleet.solvers, fleet.servedAt)
        Crowd.result(
            "restart",
            [
                "clients": config.clients - 1, "stop_s": stopSeconds, "broker_ready_s": ready,
                "relays_served": opened.filter { $0 >= started }.count,
                "evaluators_served": fleet.evaluators.filter { fleet.servedAt[$0] != 0 }.count,
                "solvers_served": fleet.solvers.filter { fleet.servedAt[$0] != 0 }.count,
                "relays_s": relays, "evaluators_s": evaluators, "solvers_s": solvers,
                "all_served_s": max(relays, evaluators, solvers),
                // The new broker's CPU since its start, and the simulated clients' since the stop.
                "broker_cpu_s": broker.cpuSeconds(), "harness_cpu_s": self.harnessCPU() - harnessCPU,
                "listen_overflows": Crowd.listenOverflows() - overflows,
            ])
    }
}
