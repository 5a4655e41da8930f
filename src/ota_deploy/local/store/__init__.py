"""The durable store behind ``local serve --state-dir``: every acknowledged change on disk
before the reply goes out.

Data flow::

    LocalIotService.call / tick --(records.Changes of one operation)--> IotStore.commit
        --one SQLite transaction: the touched records, executions, events, virtual time-->
    local S3 (moto, WSGI) --after each PUT/POST/DELETE, before the reply--> S3Store.sync
        --objects (small ones inline, large ones as files) and buckets-->
    start-up: Database.open (lock, schema, legacy iot-state.json migrated once)
        --> IotStore.load / S3Store.load --> the service's records, moto's backend

Files in the state folder (``layout``): ``state.sqlite3`` (+ its ``-wal`` and ``-shm``),
``blobs/`` (S3 objects larger than ``S3Store.INLINE_MAX``, named by their SHA-256),
``state.lock`` (one server per folder). The guarantee (``database``): a change committed before
the reply survives the death of the process at any moment (SIGKILL, a crash); after a power
loss or kernel crash the folder is consistent but may miss the last changes.
"""
