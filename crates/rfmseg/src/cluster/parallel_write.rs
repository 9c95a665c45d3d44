//! Intermediate tables written by every task of a job's last stage, not by one.
//!
//! DataFusion's `DataSinkExec` asks for a single input partition, so a Parquet write
//! planned by Ballista ends in a stage of one task that pulls the whole table through a
//! shuffle and encodes it alone, while the other executors wait: at 10M reviews the
//! cleaning job spent 6.8 s of its 13.2 s in that one task. A table the client
//! materialises on the shared work folder needs no single file and no order, so
//! rfmseg's scheduler rewrites such a write ([`ParallelWrites`]) into a
//! [`ParallelWriteExec`] whose every partition writes its own files into the folder
//! and returns its row count; the client adds the counts as it added the one before.
//! The node travels to the executors through [`RfmsegCodec`], which both server roles
//! use.

use std::fmt;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use ballista_core::serde::BallistaPhysicalExtensionCodec;
use datafusion::common::config::{ConfigOptions, TableOptions};
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Result, internal_err};
use datafusion::datasource::listing::ListingTableUrl;
use datafusion::datasource::physical_plan::parquet::ParquetSink;
use datafusion::datasource::physical_plan::{FileGroup, FileOutputMode, FileSink, FileSinkConfig};
use datafusion::datasource::sink::{DataSink, DataSinkExec};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::dml::InsertOp;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, Partitioning,
    PlanProperties, SendableRecordBatchStream,
};
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use futures::StreamExt;

/// Writes each partition of its input as Parquet files into the folder `url` (local or
/// `s3://`, resolved through the task's object stores) and yields one row per
/// partition: `count`, the rows that partition wrote.
#[derive(Debug)]
pub struct ParallelWriteExec {
    input: Arc<dyn ExecutionPlan>,
    url: String,
    properties: Arc<PlanProperties>,
}

impl ParallelWriteExec {
    pub fn new(input: Arc<dyn ExecutionPlan>, url: String) -> Self {
        let partitions = input.output_partitioning().partition_count();
        let properties = PlanProperties::new(
            EquivalenceProperties::new(count_schema()),
            Partitioning::UnknownPartitioning(partitions),
            EmissionType::Final,
            Boundedness::Bounded,
        );
        ParallelWriteExec {
            input,
            url,
            properties: Arc::new(properties),
        }
    }

    /// The sink of one partition: DataFusion's own Parquet writer, with the settings a
    /// `write_parquet` without options takes from the session (so files are encoded as
    /// the single-task write encoded them).
    fn sink(&self, options: &ConfigOptions) -> Result<ParquetSink> {
        let path = ListingTableUrl::parse(&self.url)?;
        let config = FileSinkConfig {
            original_url: self.url.clone(),
            object_store_url: path.object_store(),
            file_group: FileGroup::default(),
            table_paths: vec![path],
            output_schema: self.input.schema(),
            table_partition_cols: vec![],
            insert_op: InsertOp::Append,
            keep_partition_by_columns: false,
            file_extension: "parquet".into(),
            file_output_mode: FileOutputMode::Directory,
        };
        let parquet = TableOptions::default_from_session_config(options).parquet;
        Ok(ParquetSink::new(config, parquet))
    }
}

fn count_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new(
        "count",
        DataType::UInt64,
        false,
    )]))
}

impl DisplayAs for ParallelWriteExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "ParallelWriteExec: url={}", self.url)
    }
}

impl ExecutionPlan for ParallelWriteExec {
    fn name(&self) -> &'static str {
        "ParallelWriteExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match children.as_slice() {
            [input] => Ok(Arc::new(ParallelWriteExec::new(
                Arc::clone(input),
                self.url.clone(),
            ))),
            _ => internal_err!("ParallelWriteExec takes one input"),
        }
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let sink = self.sink(context.session_config().options())?;
        let data = self.input.execute(partition, Arc::clone(&context))?;
        let stream = futures::stream::once(async move {
            let rows = DataSink::write_all(&sink, data, &context).await?;
            let count: ArrayRef = Arc::new(UInt64Array::from(vec![rows]));
            Ok(RecordBatch::try_new(count_schema(), vec![count])?)
        })
        .boxed();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            count_schema(),
            stream,
        )))
    }
}

/// The scheduler's rewrite: a Parquet write into a folder, fed by the merge of several
/// partitions, becomes a [`ParallelWriteExec`] over those partitions. Writes to one file,
/// sorted writes and hive-partitioned writes are left as DataFusion planned them.
#[derive(Debug, Default)]
pub struct ParallelWrites;

impl PhysicalOptimizerRule for ParallelWrites {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            Ok(match parallel_write(&node) {
                Some(write) => Transformed::yes(write),
                None => Transformed::no(node),
            })
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "rfmseg_parallel_writes"
    }

    fn schema_check(&self) -> bool {
        // The write's output (one count column) keeps its schema.
        true
    }
}

fn parallel_write(node: &Arc<dyn ExecutionPlan>) -> Option<Arc<dyn ExecutionPlan>> {
    let sink_exec = node.downcast_ref::<DataSinkExec>()?;
    if sink_exec.sort_order().is_some() {
        return None;
    }
    let sink = (sink_exec.sink() as &dyn DataSink).downcast_ref::<ParquetSink>()?;
    let config = sink.config();
    let [path] = config.table_paths.as_slice() else {
        return None;
    };
    if !config.table_partition_cols.is_empty() || config.file_output_mode.single_file_output(path) {
        return None;
    }
    let merge = sink_exec.input().downcast_ref::<CoalescePartitionsExec>()?;
    if merge.fetch().is_some() {
        return None;
    }
    let input = merge.input();
    if input.output_partitioning().partition_count() < 2 {
        return None;
    }
    Some(Arc::new(ParallelWriteExec::new(
        Arc::clone(input),
        config.original_url.clone(),
    )))
}

/// Ballista's physical codec plus [`ParallelWriteExec`], which it encodes as a tag and
/// its folder (its input travels as the node's child, like Ballista's own nodes').
#[derive(Debug, Default)]
pub struct RfmsegCodec {
    ballista: BallistaPhysicalExtensionCodec,
}

const PARALLEL_WRITE_TAG: &[u8] = b"rfmseg.parallel_write:";

impl PhysicalExtensionCodec for RfmsegCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if let Some(url) = buf.strip_prefix(PARALLEL_WRITE_TAG) {
            let (Ok(url), [input]) = (std::str::from_utf8(url), inputs) else {
                return internal_err!("a malformed ParallelWriteExec");
            };
            return Ok(Arc::new(ParallelWriteExec::new(
                Arc::clone(input),
                url.to_string(),
            )));
        }
        self.ballista.try_decode(buf, inputs, ctx, proto_converter)
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        if let Some(write) = node.downcast_ref::<ParallelWriteExec>() {
            buf.extend_from_slice(PARALLEL_WRITE_TAG);
            buf.extend_from_slice(write.url.as_bytes());
            return Ok(());
        }
        self.ballista.try_encode(node, buf, proto_converter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, Int64Array, StringArray};
    use datafusion::dataframe::DataFrameWriteOptions;
    use datafusion::datasource::MemTable;
    use datafusion::execution::SessionStateBuilder;
    use datafusion::physical_plan::displayable;
    use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};
    use datafusion_proto::physical_plan::DefaultPhysicalProtoConverter;

    /// A session with the rule, over `parts` partitions of 250 rows each (id, name).
    fn session(parts: usize) -> SessionContext {
        let state = SessionStateBuilder::new()
            .with_config(SessionConfig::new().with_target_partitions(parts))
            .with_default_features()
            .with_physical_optimizer_rule(Arc::new(ParallelWrites))
            .build();
        let ctx = SessionContext::new_with_state(state);
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
        ]));
        let partitions = (0..parts as i64)
            .map(|p| {
                let ids: Vec<i64> = (p * 250..(p + 1) * 250).collect();
                let names: Vec<Option<String>> = ids
                    .iter()
                    .map(|i| (i % 7 != 0).then(|| format!("n{i}")))
                    .collect();
                vec![
                    RecordBatch::try_new(
                        schema.clone(),
                        vec![
                            Arc::new(Int64Array::from(ids)),
                            Arc::new(StringArray::from(names)),
                        ],
                    )
                    .unwrap(),
                ]
            })
            .collect();
        let table = MemTable::try_new(schema, partitions).unwrap();
        ctx.register_table("t", Arc::new(table)).unwrap();
        ctx
    }

    async fn plan_of(ctx: &SessionContext, url: &str) -> String {
        let plan = ctx
            .sql(&format!("COPY t TO '{url}' STORED AS PARQUET"))
            .await
            .unwrap()
            .create_physical_plan()
            .await
            .unwrap();
        displayable(plan.as_ref()).indent(false).to_string()
    }

    /// A write into a folder runs in every partition and writes every row once: the
    /// counts add up to the rows, and the folder reads back as the table.
    #[tokio::test]
    async fn a_folder_write_runs_in_every_partition_and_writes_each_row_once() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("{}/out/", dir.path().display());
        let ctx = session(4);
        let plan = plan_of(&ctx, &url).await;
        assert!(plan.starts_with("ParallelWriteExec"), "{plan}");
        assert!(!plan.contains("CoalescePartitionsExec"), "{plan}");
        let counts = ctx
            .table("t")
            .await
            .unwrap()
            .write_parquet(&url, DataFrameWriteOptions::new(), None)
            .await
            .unwrap();
        let counts: Vec<u64> = counts
            .iter()
            .flat_map(|b| {
                b.column(0)
                    .as_any()
                    .downcast_ref::<UInt64Array>()
                    .unwrap()
                    .values()
                    .to_vec()
            })
            .collect();
        assert_eq!(counts, vec![250; 4]);
        let back = SessionContext::new();
        back.register_parquet("back", &url, ParquetReadOptions::default())
            .await
            .unwrap();
        let batches = back
            .sql("SELECT id, name FROM back ORDER BY id")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let mut rows = Vec::new();
        for b in &batches {
            let ids = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
            let names = arrow::compute::cast(b.column(1), &DataType::Utf8).unwrap();
            let names = names.as_any().downcast_ref::<StringArray>().unwrap();
            for i in 0..b.num_rows() {
                rows.push((
                    ids.value(i),
                    names.is_valid(i).then(|| names.value(i).to_string()),
                ));
            }
        }
        let expected: Vec<(i64, Option<String>)> = (0..1000)
            .map(|i| (i, (i % 7 != 0).then(|| format!("n{i}"))))
            .collect();
        assert_eq!(rows, expected);
        let files = std::fs::read_dir(dir.path().join("out")).unwrap().count();
        assert_eq!(files, 4, "one file per partition");
    }

    /// A write to one file, or of a single partition, stays DataFusion's.
    #[tokio::test]
    async fn single_file_and_single_partition_writes_are_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let file = format!("{}/one.parquet", dir.path().display());
        let plan = plan_of(&session(4), &file).await;
        assert!(plan.starts_with("DataSinkExec"), "{plan}");
        let folder = format!("{}/out/", dir.path().display());
        let plan = plan_of(&session(1), &folder).await;
        assert!(plan.starts_with("DataSinkExec"), "{plan}");
    }

    /// The node crosses from scheduler to executor as its folder, with its input as the
    /// child; other nodes are left to Ballista's codec.
    #[tokio::test]
    async fn the_codec_carries_the_write_and_leaves_other_nodes_to_ballista() {
        let ctx = session(2);
        let input = ctx
            .table("t")
            .await
            .unwrap()
            .create_physical_plan()
            .await
            .unwrap();
        let write: Arc<dyn ExecutionPlan> =
            Arc::new(ParallelWriteExec::new(input.clone(), "s3://b/w/t/".into()));
        let codec = RfmsegCodec::default();
        let converter = DefaultPhysicalProtoConverter {};
        let mut buf = Vec::new();
        codec.try_encode(write, &mut buf, &converter).unwrap();
        let task = ctx.task_ctx();
        let back = codec
            .try_decode(&buf, std::slice::from_ref(&input), &task, &converter)
            .unwrap();
        let back = back.downcast_ref::<ParallelWriteExec>().unwrap();
        assert_eq!(back.url, "s3://b/w/t/");
        assert_eq!(back.properties().partitioning.partition_count(), 2);
        let mut other = Vec::new();
        assert!(codec.try_encode(input, &mut other, &converter).is_err());
        assert!(
            codec
                .try_decode(b"not a plan", &[], &task, &converter)
                .is_err()
        );
    }
}
