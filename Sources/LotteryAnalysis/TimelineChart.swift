import Foundation
public import LotteryResults

/// "Where the time went": one lane per worker, its connected time as a pale band (× slots in the label), each
/// recorded round as a bar coloured by trial, so idle gaps show as band without bars (docs/status.md).
public struct TimelineChart: Sendable {
    public let timeline: Timeline
    /// Most lanes drawn (the first workers to appear); the rest are counted in the caption.
    public var maxLanes = 64

    public init(timeline: Timeline, maxLanes: Int = 64) {
        self.timeline = timeline
        self.maxLanes = maxLanes
    }

    /// The figure, a self-contained `<svg>`: one `<rect>` with a `<title>` per availability period and per round.
    public func svg() -> String {
        let lanes = Array(timeline.workers.prefix(maxLanes))
        let laneHeight = 18.0
        let left = 170.0
        let right = 20.0
        let top = 30.0
        let plotWidth = 900.0
        let height = top + Double(lanes.count) * laneHeight + 50
        let width = left + plotWidth + right
        let axis = PlotAxis(label: "seconds since the first round started", values: [0, max(1, timeline.seconds)])
        func x(_ seconds: Double) -> Double { left + axis.position(seconds, length: plotWidth) }
        var out = SVG.open(width: width, height: height, label: "Trials per worker over time")
        out += SVG.text(
            String(format: "Worker time: %.0f%% busy", timeline.efficiency * 100), x: left, y: 18, size: 14,
            weight: "bold")
        var colours: [String: String] = [:]
        for (index, lane) in lanes.enumerated() {
            let y = top + Double(index) * laneHeight
            let slots = timeline.availability.filter { $0.worker == lane }.map(\.slots).max() ?? 1
            let label = SVG.fit(lane + (slots > 1 ? " ×\(slots)" : ""), width: left - 10, size: 11)
            out += SVG.text(label.text, x: left - 6, y: y + laneHeight * 0.7, size: label.size, anchor: "end")
            for period in timeline.availability where period.worker == lane {
                out +=
                    "<rect x=\"\(SVG.f(x(period.from)))\" y=\"\(SVG.f(y + 2))\" width=\"\(SVG.f(max(0.5, x(period.to) - x(period.from))))\" "
                    + "height=\"\(SVG.f(laneHeight - 4))\" fill=\"#eeeeee\"><title>connected \(SVG.number(period.from))–\(SVG.number(period.to)) s, \(period.slots) slot(s)</title></rect>"
            }
            for span in timeline.spans where span.worker == lane {
                let colour =
                    colours[span.trialID]
                    ?? {
                        let next = SVG.palette[colours.count % SVG.palette.count]
                        colours[span.trialID] = next
                        return next
                    }()
                out +=
                    "<rect x=\"\(SVG.f(x(span.start)))\" y=\"\(SVG.f(y + 4))\" width=\"\(SVG.f(max(0.5, x(span.end) - x(span.start))))\" "
                    + "height=\"\(SVG.f(laneHeight - 8))\" fill=\"\(colour)\"><title>\(SVG.escape(span.trialID)) round \(span.round): "
                    + "\(SVG.number(span.start))–\(SVG.number(span.end)) s</title></rect>"
            }
        }
        let axisY = top + Double(lanes.count) * laneHeight + 4
        out +=
            "<line x1=\"\(SVG.f(left))\" y1=\"\(SVG.f(axisY))\" x2=\"\(SVG.f(left + plotWidth))\" y2=\"\(SVG.f(axisY))\" stroke=\"#444\"/>"
        for tick in axis.ticks() {
            let tx = x(tick.value)
            out +=
                "<line x1=\"\(SVG.f(tx))\" y1=\"\(SVG.f(axisY))\" x2=\"\(SVG.f(tx))\" y2=\"\(SVG.f(axisY + 4))\" stroke=\"#444\"/>"
            out += SVG.text(tick.label, x: tx, y: axisY + 16, size: 11, anchor: "middle")
        }
        out += SVG.text(axis.label, x: left + plotWidth / 2, y: axisY + 34, size: 12, anchor: "middle")
        return out + "</svg>"
    }
}
