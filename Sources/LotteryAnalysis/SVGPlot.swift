import Foundation

/// One axis of a chart: label, linear or log scale, a domain widened to nice tick values, optional reversal.
public struct PlotAxis: Sendable, Hashable {
    public enum Scale: Sendable, Hashable { case linear, log }

    public var label: String
    public var scale: Scale
    public private(set) var lower: Double
    public private(set) var upper: Double
    /// Whether values grow towards the left (x) or bottom (y): the LTH papers' density axis runs 100 → 1.
    public var reversed: Bool

    /// An axis covering `values` (non-finite values and, on a log axis, values ≤ 0 are ignored).
    ///
    /// - Parameters:
    ///   - includeZero: extend a linear domain to 0.
    ///   - clamp: never extend the domain beyond this range (e.g. 0...1 for accuracies).
    public init(
        label: String, scale: Scale = .linear, values: [Double], reversed: Bool = false, includeZero: Bool = false,
        clamp: ClosedRange<Double>? = nil
    ) {
        self.label = label
        self.scale = scale
        self.reversed = reversed
        var finite = values.filter { $0.isFinite && (scale == .linear || $0 > 0) }
        if includeZero { finite.append(0) }
        var low = finite.min() ?? (scale == .log ? 1 : 0)
        var high = finite.max() ?? (scale == .log ? 10 : 1)
        switch scale {
        case .linear:
            if high - low < 1e-12 {
                let pad = Swift.max(abs(high) * 0.05, 1e-3)
                low -= pad
                high += pad
            }
            let step = Self.linearStep(low, high)
            low = (low / step + 1e-9).rounded(.down) * step
            high = (high / step - 1e-9).rounded(.up) * step
        case .log:
            low = Self.niceLogBelow(low)
            high = Self.niceLogAbove(high)
            if high <= low { high = low * 10 }
        }
        if let clamp {
            low = Swift.max(low, clamp.lowerBound)
            high = Swift.min(high, clamp.upperBound)
        }
        lower = low
        upper = high
    }

    /// Tick values and their labels.
    public func ticks() -> [(value: Double, label: String)] {
        switch scale {
        case .linear:
            let step = Self.linearStep(lower, upper)
            let decimals = Swift.max(0, Int(-(log10(step) + 1e-9).rounded(.down)))
            var ticks: [(Double, String)] = []
            var value = (lower / step - 1e-9).rounded(.up) * step
            while value <= upper + step * 1e-9 {
                ticks.append((value, String(format: "%.\(decimals)f", abs(value) < step * 1e-9 ? 0 : value)))
                value += step
            }
            return ticks
        case .log:
            // 1-2-5 per decade; within less than a decade (100 → 50) every integer mantissa; over many
            // decades only the powers of ten.
            func ticks(_ mantissas: [Double]) -> [Double] {
                var candidates: [Double] = []
                var decade = pow(10, log10(lower).rounded(.down))
                while decade <= upper * 1.0001 {
                    for mantissa in mantissas { candidates.append(decade * mantissa) }
                    decade *= 10
                }
                return candidates.filter { $0 >= lower * 0.9999 && $0 <= upper * 1.0001 }
            }
            var values = ticks([1, 2, 5])
            if values.count < 4 { values = ticks([1, 2, 3, 4, 5, 6, 7, 8, 9]) }
            if values.count > 9 { values = values.filter { abs(log10($0) - log10($0).rounded()) < 1e-9 } }
            return values.map { ($0, Self.compact($0)) }
        }
    }

    /// Position of `value` along an axis of `length` pixels, 0 at the start (left or bottom).
    public func position(_ value: Double, length: Double) -> Double {
        var fraction: Double
        switch scale {
        case .linear: fraction = (value - lower) / (upper - lower)
        case .log: fraction = (log10(Swift.max(value, 1e-300)) - log10(lower)) / (log10(upper) - log10(lower))
        }
        if reversed { fraction = 1 - fraction }
        return fraction * length
    }

    /// Whether `value` can be drawn on this axis.
    public func contains(_ value: Double) -> Bool {
        value.isFinite && (scale == .linear || value > 0) && value >= lower - 1e-9 * abs(upper - lower)
            && value <= upper + 1e-9 * abs(upper - lower)
    }

    static func linearStep(_ low: Double, _ high: Double) -> Double {
        let rough = (high - low) / 5
        guard rough > 0, rough.isFinite else { return 1 }
        let magnitude = pow(10, log10(rough).rounded(.down))
        let residual = rough / magnitude
        let nice: Double = residual < 1.5 ? 1 : residual < 3 ? 2 : residual < 7 ? 5 : 10
        return nice * magnitude
    }

    static func niceLogBelow(_ value: Double) -> Double {
        let decade = pow(10, log10(value).rounded(.down))
        for mantissa in [5.0, 2, 1] where decade * mantissa <= value * 1.0001 { return decade * mantissa }
        return decade
    }

    static func niceLogAbove(_ value: Double) -> Double {
        let decade = pow(10, log10(value).rounded(.down))
        for mantissa in [1.0, 2, 5, 10] where decade * mantissa >= value * 0.9999 { return decade * mantissa }
        return decade * 10
    }

    /// `0.5`, `2`, `100`: the shortest decimal text of a tick value.
    static func compact(_ value: Double) -> String {
        if abs(value - value.rounded()) < 1e-9 * Swift.max(1, abs(value)) { return String(Int(value.rounded())) }
        var text = String(format: "%.6f", value)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }
}

/// One point of a series: `y` is a mean, `error` its standard deviation, `n` how many values it averages.
public struct PlotPoint: Sendable, Hashable {
    public var x: Double
    public var y: Double
    public var error: Double?
    public var n: Int?

    public init(x: Double, y: Double, error: Double? = nil, n: Int? = nil) {
        self.x = x
        self.y = y
        self.error = error
        self.n = n
    }
}

/// A named line with markers.
public struct PlotSeries: Sendable, Hashable {
    public var name: String
    public var points: [PlotPoint]
    /// Drawn dashed (control branches).
    public var dashed: Bool

    public init(name: String, points: [PlotPoint], dashed: Bool = false) {
        self.name = name
        self.points = points
        self.dashed = dashed
    }
}

/// A line chart with markers, error bars, axes, ticks, labels and a legend, drawn as one `<svg>` element.
///
/// Every point is one `<circle class="marker">` inside its series' `<g class="series" data-series="NAME">`
/// (tests count them); points that cannot be drawn (non-finite, ≤ 0 on a log axis) are skipped.
public struct LineChart: Sendable {
    public var title: String
    public var x: PlotAxis
    public var y: PlotAxis
    public var series: [PlotSeries]
    public var width: Double
    public var height: Double
    /// A dashed grey horizontal line at this `y` (e.g. 1 = chance), labelled `referenceLabel`.
    public var referenceY: Double?
    public var referenceLabel: String

    public init(
        title: String, x: PlotAxis, y: PlotAxis, series: [PlotSeries], width: Double = 620, height: Double = 380,
        referenceY: Double? = nil, referenceLabel: String = ""
    ) {
        self.referenceY = referenceY
        self.referenceLabel = referenceLabel
        self.title = title
        self.x = x
        self.y = y
        self.series = series
        self.width = width
        self.height = height
    }

    /// The chart as an SVG element (XML-well-formed, no scripts, no external references).
    public func svg() -> String {
        let left = 64.0
        let right = 20.0
        let top = 34.0
        let plotHeight = height - top - 52
        let plotWidth = width - left - right
        // Legend below the x label, wrapped into rows.
        var legendRows: [[(index: Int, text: String, width: Double)]] = [[]]
        var rowWidth = 0.0
        for (index, series) in series.enumerated() {
            // Long names are cut, the sample size never.
            let suffix = Self.sampleSize(series.points)
            let available = width - left - 44 - SVG.textWidth(suffix, size: 12)
            let text = SVG.fit(series.name, width: available, size: 12, minimum: 12).text + suffix
            let entry = 34 + SVG.textWidth(text, size: 12) + 18
            if rowWidth + entry > plotWidth, !legendRows[legendRows.count - 1].isEmpty {
                legendRows.append([])
                rowWidth = 0
            }
            legendRows[legendRows.count - 1].append((index, text, entry))
            rowWidth += entry
        }
        let legendHeight = series.isEmpty ? 0 : Double(legendRows.count) * 20 + 6
        let totalHeight = height + legendHeight
        var out = SVG.open(width: width, height: totalHeight, label: title)
        let fitted = SVG.fit(title, width: width - 8, size: 14)
        out += SVG.text(fitted.text, x: width / 2, y: 20, size: fitted.size, anchor: "middle", weight: "bold")
        out += "<g transform=\"translate(\(SVG.f(left)),\(SVG.f(top)))\">"
        out +=
            "<rect x=\"0\" y=\"0\" width=\"\(SVG.f(plotWidth))\" height=\"\(SVG.f(plotHeight))\" fill=\"#fff\" stroke=\"#999\"/>"
        // Grid and ticks.
        for tick in x.ticks() {
            let px = x.position(tick.value, length: plotWidth)
            out +=
                "<line class=\"grid\" x1=\"\(SVG.f(px))\" y1=\"0\" x2=\"\(SVG.f(px))\" y2=\"\(SVG.f(plotHeight))\" stroke=\"#eee\"/>"
            out +=
                "<line x1=\"\(SVG.f(px))\" y1=\"\(SVG.f(plotHeight))\" x2=\"\(SVG.f(px))\" y2=\"\(SVG.f(plotHeight + 5))\" stroke=\"#333\"/>"
            out += SVG.text(tick.label, x: px, y: plotHeight + 18, size: 11, anchor: "middle", cssClass: "xtick")
        }
        for tick in y.ticks() {
            let py = plotHeight - y.position(tick.value, length: plotHeight)
            out +=
                "<line class=\"grid\" x1=\"0\" y1=\"\(SVG.f(py))\" x2=\"\(SVG.f(plotWidth))\" y2=\"\(SVG.f(py))\" stroke=\"#eee\"/>"
            out += "<line x1=\"-5\" y1=\"\(SVG.f(py))\" x2=\"0\" y2=\"\(SVG.f(py))\" stroke=\"#333\"/>"
            out += SVG.text(tick.label, x: -8, y: py + 4, size: 11, anchor: "end", cssClass: "ytick")
        }
        out += SVG.text(x.label, x: plotWidth / 2, y: plotHeight + 38, size: 12, anchor: "middle")
        out +=
            "<text x=\"0\" y=\"0\" font-size=\"12\" text-anchor=\"middle\" font-family=\"sans-serif\" "
            + "transform=\"translate(-48,\(SVG.f(plotHeight / 2))) rotate(-90)\">\(SVG.escape(y.label))</text>"
        if let reference = referenceY, y.contains(reference) {
            let py = plotHeight - y.position(reference, length: plotHeight)
            out +=
                "<line class=\"reference\" x1=\"0\" y1=\"\(SVG.f(py))\" x2=\"\(SVG.f(plotWidth))\" y2=\"\(SVG.f(py))\" stroke=\"#777\" stroke-dasharray=\"3 3\"/>"
            out += SVG.text(referenceLabel, x: plotWidth - 4, y: py - 4, size: 11, anchor: "end")
        }
        // Series.
        for (index, series) in series.enumerated() {
            let colour = SVG.palette[index % SVG.palette.count]
            let drawable = series.points.filter { x.contains($0.x) && y.contains($0.y) }
            out += "<g class=\"series\" data-series=\"\(SVG.escape(series.name))\">"
            if drawable.count > 1 {
                let path = drawable.map {
                    "\(SVG.f(x.position($0.x, length: plotWidth))),\(SVG.f(plotHeight - y.position($0.y, length: plotHeight)))"
                }.joined(separator: " ")
                out +=
                    "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"1.8\"\(series.dashed ? " stroke-dasharray=\"6 4\"" : "") points=\"\(path)\"/>"
            }
            let radius = drawable.count > 30 ? 2.0 : 3.2
            for point in drawable {
                let px = x.position(point.x, length: plotWidth)
                let py = plotHeight - y.position(point.y, length: plotHeight)
                if let error = point.error, error > 0, error.isFinite {
                    let high = plotHeight - y.position(Swift.min(point.y + error, y.upper), length: plotHeight)
                    let low = plotHeight - y.position(Swift.max(point.y - error, y.lower), length: plotHeight)
                    out +=
                        "<path class=\"errorbar\" stroke=\"\(colour)\" stroke-width=\"1.2\" fill=\"none\" d=\"M\(SVG.f(px)),\(SVG.f(low))V\(SVG.f(high))M\(SVG.f(px - 3)),\(SVG.f(low))h6M\(SVG.f(px - 3)),\(SVG.f(high))h6\"/>"
                }
                var tip = "\(series.name): x=\(SVG.number(point.x)), y=\(SVG.number(point.y))"
                if let error = point.error { tip += " ± \(SVG.number(error))" }
                if let n = point.n { tip += " (n=\(n))" }
                out +=
                    "<circle class=\"marker\" cx=\"\(SVG.f(px))\" cy=\"\(SVG.f(py))\" r=\"\(SVG.f(radius))\" fill=\"\(series.dashed ? "#fff" : colour)\" stroke=\"\(colour)\" stroke-width=\"1.4\"><title>\(SVG.escape(tip))</title></circle>"
            }
            out += "</g>"
        }
        out += "</g>"
        // Legend.
        var legendY = height + 4
        for row in legendRows where !row.isEmpty {
            var legendX = left
            for entry in row {
                let colour = SVG.palette[entry.index % SVG.palette.count]
                let dashed = series[entry.index].dashed
                out +=
                    "<line x1=\"\(SVG.f(legendX))\" y1=\"\(SVG.f(legendY + 6))\" x2=\"\(SVG.f(legendX + 24))\" y2=\"\(SVG.f(legendY + 6))\" stroke=\"\(colour)\" stroke-width=\"1.8\"\(dashed ? " stroke-dasharray=\"6 4\"" : "")/>"
                out +=
                    "<circle cx=\"\(SVG.f(legendX + 12))\" cy=\"\(SVG.f(legendY + 6))\" r=\"3.2\" fill=\"\(dashed ? "#fff" : colour)\" stroke=\"\(colour)\"/>"
                out += SVG.text(entry.text, x: legendX + 30, y: legendY + 10, size: 12, cssClass: "legend")
                legendX += entry.width
            }
            legendY += 20
        }
        out += "</svg>"
        return out
    }

    /// ` (n=3)` or ` (n=2–5)` for a series whose points carry sample sizes, else empty.
    static func sampleSize(_ points: [PlotPoint]) -> String {
        let sizes = points.compactMap(\.n)
        guard let low = sizes.min(), let high = sizes.max() else { return "" }
        return low == high ? " (n=\(low))" : " (n=\(low)–\(high))"
    }
}

/// A heatmap of a `[rows, cols]` grid with a colour bar (viridis), drawn as one `<svg>` element.
///
/// Cells are `<rect class="cell">`; runs of equal colour in a row share one rect (widths add up to `cols`).
public struct HeatmapChart: Sendable {
    public var title: String
    public var rows: Int
    public var cols: Int
    /// Row-major `rows * cols` values.
    public var values: [Double]
    public var lower: Double
    public var upper: Double
    public var colourLabel: String
    public var cellSize: Double

    public init(
        title: String, rows: Int, cols: Int, values: [Double], lower: Double? = nil, upper: Double? = nil,
        colourLabel: String, cellSize: Double = 6
    ) {
        precondition(values.count == rows * cols, "HeatmapChart: \(values.count) values for \(rows)x\(cols)")
        self.title = title
        self.rows = rows
        self.cols = cols
        self.values = values
        let finite = values.filter(\.isFinite)
        self.lower = lower ?? finite.min() ?? 0
        var high = upper ?? finite.max() ?? 1
        if high <= self.lower { high = self.lower + 1 }
        self.upper = high
        self.colourLabel = colourLabel
        self.cellSize = cellSize
    }

    static func level(_ value: Double, _ lower: Double, _ upper: Double) -> Double {
        ((value - lower) / (upper - lower) * 63).rounded() / 63
    }

    public func svg() -> String {
        let gridWidth = Double(cols) * cellSize
        let gridHeight = Double(rows) * cellSize
        let top = 24.0
        let barX = gridWidth + 12
        let width = barX + 12 + 46
        let height = top + gridHeight + 30
        var out = SVG.open(width: width, height: height, label: title)
        out += SVG.text(title, x: gridWidth / 2, y: 15, size: 12, anchor: "middle", weight: "bold")
        out += "<g transform=\"translate(0,\(SVG.f(top)))\" shape-rendering=\"crispEdges\">"
        // Colours are quantised to 64 levels and equal neighbours in a row merged into one rect: 28×28 maps
        // with pruned borders shrink several-fold.
        for row in 0..<rows {
            var col = 0
            while col < cols {
                let colour = SVG.viridis(Self.level(values[row * cols + col], lower, upper))
                var run = 1
                while col + run < cols, SVG.viridis(Self.level(values[row * cols + col + run], lower, upper)) == colour
                {
                    run += 1
                }
                out +=
                    "<rect class=\"cell\" x=\"\(SVG.f(Double(col) * cellSize))\" y=\"\(SVG.f(Double(row) * cellSize))\" width=\"\(SVG.f(Double(run) * cellSize))\" height=\"\(SVG.f(cellSize))\" fill=\"\(colour)\"/>"
                col += run
            }
        }
        out += "</g>"
        // Colour bar: 20 bands, low at the bottom, with the axis ticks of its range.
        let bands = 20
        for band in 0..<bands {
            let fraction = (Double(band) + 0.5) / Double(bands)
            let y = top + gridHeight * (1 - Double(band + 1) / Double(bands))
            out +=
                "<rect x=\"\(SVG.f(barX))\" y=\"\(SVG.f(y))\" width=\"12\" height=\"\(SVG.f(gridHeight / Double(bands) + 0.5))\" fill=\"\(SVG.viridis(fraction))\"/>"
        }
        out +=
            "<rect x=\"\(SVG.f(barX))\" y=\"\(SVG.f(top))\" width=\"12\" height=\"\(SVG.f(gridHeight))\" fill=\"none\" stroke=\"#666\"/>"
        let axis = PlotAxis(label: colourLabel, values: [lower, upper], clamp: lower...upper)
        for tick in axis.ticks() where tick.value >= lower - 1e-12 && tick.value <= upper + 1e-12 {
            let y = top + gridHeight - (tick.value - lower) / (upper - lower) * gridHeight
            out +=
                "<line x1=\"\(SVG.f(barX + 12))\" y1=\"\(SVG.f(y))\" x2=\"\(SVG.f(barX + 15))\" y2=\"\(SVG.f(y))\" stroke=\"#333\"/>"
            out += SVG.text(tick.label, x: barX + 17, y: y + 4, size: 10)
        }
        out += SVG.text(colourLabel, x: gridWidth / 2, y: top + gridHeight + 16, size: 11, anchor: "middle")
        out += "</svg>"
        return out
    }
}

/// SVG text helpers shared by the charts.
enum SVG {
    /// matplotlib's tab10.
    static let palette = [
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    ]

    static func open(width: Double, height: Double, label: String) -> String {
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"\(f(width))\" height=\"\(f(height))\" "
            + "viewBox=\"0 0 \(f(width)) \(f(height))\" role=\"img\" aria-label=\"\(escape(label))\" font-family=\"sans-serif\">"
    }

    static func text(
        _ content: String, x: Double, y: Double, size: Double, anchor: String = "start", weight: String? = nil,
        cssClass: String? = nil
    ) -> String {
        "<text x=\"\(f(x))\" y=\"\(f(y))\" font-size=\"\(f(size))\" text-anchor=\"\(anchor)\""
            + (weight.map { " font-weight=\"\($0)\"" } ?? "") + (cssClass.map { " class=\"\($0)\"" } ?? "")
            + ">\(escape(content))</text>"
    }

    /// `text` at the largest font size from `size` down to `minimum` that fits `width`, else cut with "…".
    static func fit(_ text: String, width: Double, size: Double, minimum: Double = 11) -> (text: String, size: Double) {
        var current = size
        while current > minimum, textWidth(text, size: current) > width { current -= 1 }
        guard textWidth(text, size: current) > width else { return (text, current) }
        let characters = max(1, Int(width / (current * 0.55)) - 1)
        return (String(text.prefix(characters)) + "…", current)
    }

    /// Rough width of sans-serif text (0.55 em per character; DejaVu Sans averages ~0.52), for laying out legends.
    static func textWidth(_ text: String, size: Double) -> Double { Double(text.count) * size * 0.55 }

    static func escape(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(character)
            }
        }
        return out
    }

    /// A coordinate with at most one decimal.
    static func f(_ value: Double) -> String {
        let rounded = (value * 10).rounded() / 10
        return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
    }

    /// A value for tooltips and tables: 4 significant digits.
    static func number(_ value: Double) -> String {
        guard value.isFinite else { return value.description }
        return String(format: "%.4g", value)
    }

    /// Viridis colour map at `fraction` in [0, 1] (piecewise linear through 9 of matplotlib's stops).
    static func viridis(_ fraction: Double) -> String {
        let stops: [(Double, Double, Double)] = [
            (68, 1, 84), (72, 40, 120), (62, 74, 137), (49, 104, 142), (38, 130, 142), (31, 158, 137),
            (53, 183, 121), (109, 205, 89), (180, 222, 44), (253, 231, 37),
        ]
        let t = fraction.isFinite ? Swift.min(1, Swift.max(0, fraction)) : 0
        let position = t * Double(stops.count - 1)
        let index = Swift.min(stops.count - 2, Int(position))
        let local = position - Double(index)
        let (a, b) = (stops[index], stops[index + 1])
        func hex(_ low: Double, _ high: Double) -> String {
            let value = Int((low + (high - low) * local).rounded())
            let text = String(value, radix: 16)
            return text.count == 1 ? "0" + text : text
        }
        return "#" + hex(a.0, b.0) + hex(a.1, b.1) + hex(a.2, b.2)
    }
}
