"""logradar on Spark 4: the detection core as a Structured Streaming job that scales out.

Executors map and pre-aggregate the lines (:mod:`.executors`, :mod:`.partials`); the driver
reduces the aggregates (:mod:`.reducer`). Entry points: ``logradar up --engine spark``
(:mod:`.engine`), ``logradar backtest --engine spark`` (:mod:`.backtest`) and the
``spark-submit`` job (:mod:`.job`). Nothing here is imported unless Spark is asked for.
"""
