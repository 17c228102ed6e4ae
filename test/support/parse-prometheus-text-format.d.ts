/** The shape parse-prometheus-text-format returns (it ships no types; its output follows prom2json's). */
declare module 'parse-prometheus-text-format' {
  interface ParsedMetric {
    value?: string;
    labels?: Record<string, string>;
    buckets?: Record<string, string>;
    count?: string;
    sum?: string;
  }
  interface ParsedFamily {
    name: string;
    help: string;
    /** upper case: COUNTER, GAUGE, HISTOGRAM, SUMMARY, UNTYPED */
    type: string;
    metrics: ParsedMetric[];
  }
  function parsePrometheusTextFormat(text: string): ParsedFamily[];
  export = parsePrometheusTextFormat;
}
