"""A local Spark Connect server for the tests, in a process of its own: Spark in local mode
with the Connect plugin on a given port, one catalog table per table of a Parquet folder.
Prints "ready" when it serves, and stops when its standard input closes.

    python3 tests/spark_connect_server.py PORT FOLDER
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main(port: int, folder: Path) -> None:
    sys.path.insert(0, str(REPO))
    from pyspark.sql import SparkSession

    from cxmetrics.contract import lake

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("cx-connect-server")
        .config("spark.plugins", "org.apache.spark.sql.connect.SparkConnectPlugin")
        .config("spark.connect.grpc.binding.port", str(port))
        .config("spark.driver.memory", "1g")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    for name, path in lake.table_files(folder).items():
        spark.sql(f"CREATE TABLE `{name}` USING parquet LOCATION '{path}'")
    print("ready", flush=True)
    sys.stdin.read()  # until the test closes the pipe
    spark.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]), Path(sys.argv[2]))
