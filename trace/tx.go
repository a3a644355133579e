package trace

// Tx describes one transaction of the contract, once: its name, its request
// type (Req; *Req is the trace request type), its result type, whether it is
// a query and the right it needs ("" for Decommission, which needs the right
// of the requested reason). The contract registers its methods by these
// descriptors, the gateway's typed calls and the API's and importer's
// ledger calls take them, so a transaction's name and types are said here
// and nowhere else.
type Tx[Req, Res any] struct {
	Name  string
	Query bool
	Right Right
}

// Info returns the untyped part of the descriptor.
func (t Tx[Req, Res]) Info() TxInfo {
	_, routed := any(new(Req)).(Routed)
	return TxInfo{Name: t.Name, Query: t.Query, Right: t.Right, Routed: routed, NewRequest: func() any { return new(Req) }}
}

// TxInfo is a transaction descriptor without its types.
type TxInfo struct {
	Name  string
	Query bool
	Right Right
	// Routed: the request implements Routed, so the transaction may touch
	// a manufacturer's collection (see route.go).
	Routed bool
	// NewRequest returns a new *Req, to decode an encoded request into.
	NewRequest func() any
}

// Transaction names of the PharmaTrace contract (the default contract of the
// chaincode, also reachable as "pharmatrace:<name>").
const (
	TxRegisterProduct   = "RegisterProduct"
	TxRegisterLot       = "RegisterLot"
	TxReleaseLot        = "ReleaseLot"
	TxCommissionPacks   = "CommissionPacks"
	TxAggregate         = "Aggregate"
	TxShip              = "Ship"
	TxReceive           = "Receive"
	TxDispense          = "Dispense"
	TxDecommission      = "Decommission"
	TxUndo              = "Undo"
	TxRecallLot         = "RecallLot"
	TxWithdrawLot       = "WithdrawLot"
	TxReportScan        = "ReportScan"
	TxFlagAnomaly       = "FlagAnomaly"
	TxTransitionAnomaly = "TransitionAnomaly"
	TxCommentAnomaly    = "CommentAnomaly"
	TxVerify            = "Verify"
	TxGetProduct        = "GetProduct"
	TxGetPack           = "GetPack"
	TxGetPackHistory    = "GetPackHistory"
	TxGetLot            = "GetLot"
	TxGetShipment       = "GetShipment"
	TxGetAnomaly        = "GetAnomaly"
	TxGetRequest        = "GetRequest"
	TxListAnomalies     = "ListAnomalies"
	TxListPacksByLot    = "ListPacksByLot"
	TxRoute             = "Route"
	TxInitCollection    = "InitCollection"
)

// Txs holds the descriptor of every transaction (see Tx).
var Txs = struct {
	RegisterProduct   Tx[RegisterProductRequest, ProductResult]
	RegisterLot       Tx[RegisterLotRequest, LotResult]
	ReleaseLot        Tx[LotStatusRequest, LotResult]
	CommissionPacks   Tx[CommissionPacksRequest, CommissionPacksResult]
	Aggregate         Tx[AggregateRequest, AggregateResult]
	Ship              Tx[ShipRequest, ShipmentResult]
	Receive           Tx[ReceiveRequest, ReceiveResult]
	Dispense          Tx[ScanRequest, ScanResult]
	Decommission      Tx[DecommissionRequest, ScanResult]
	Undo              Tx[ScanRequest, ScanResult]
	RecallLot         Tx[LotStatusRequest, LotResult]
	WithdrawLot       Tx[LotStatusRequest, LotResult]
	ReportScan        Tx[ScanRequest, ScanResult]
	FlagAnomaly       Tx[FlagAnomalyRequest, AnomalyResult]
	TransitionAnomaly Tx[TransitionAnomalyRequest, AnomalyResult]
	CommentAnomaly    Tx[CommentAnomalyRequest, AnomalyResult]
	Verify            Tx[VerifyRequest, VerifyResult]
	GetProduct        Tx[ProductQuery, GetProductResult]
	GetPack           Tx[PackQuery, GetPackResult]
	GetPackHistory    Tx[PackHistoryQuery, PackHistoryResult]
	GetLot            Tx[LotQuery, GetLotResult]
	GetShipment       Tx[ShipmentQuery, GetShipmentResult]
	GetAnomaly        Tx[AnomalyQuery, GetAnomalyResult]
	GetRequest        Tx[RequestQuery, GetRequestResult]
	ListAnomalies     Tx[ListAnomaliesQuery, ListAnomaliesResult]
	ListPacksByLot    Tx[ListPacksByLotQuery, ListPacksByLotResult]
	Route             Tx[RouteQuery, RouteResult]
	InitCollection    Tx[InitCollectionRequest, InitCollectionResult]
}{
	RegisterProduct:   write[RegisterProductRequest, ProductResult](TxRegisterProduct, RightProductRegister),
	RegisterLot:       write[RegisterLotRequest, LotResult](TxRegisterLot, RightLotRegister),
	ReleaseLot:        write[LotStatusRequest, LotResult](TxReleaseLot, RightLotRelease),
	CommissionPacks:   write[CommissionPacksRequest, CommissionPacksResult](TxCommissionPacks, RightPackCommission),
	Aggregate:         write[AggregateRequest, AggregateResult](TxAggregate, RightPackAggregate),
	Ship:              write[ShipRequest, ShipmentResult](TxShip, RightPackShip),
	Receive:           write[ReceiveRequest, ReceiveResult](TxReceive, RightPackReceive),
	Dispense:          write[ScanRequest, ScanResult](TxDispense, RightPackDispense),
	Decommission:      write[DecommissionRequest, ScanResult](TxDecommission, ""),
	Undo:              write[ScanRequest, ScanResult](TxUndo, RightPackUndo),
	RecallLot:         write[LotStatusRequest, LotResult](TxRecallLot, RightLotRecall),
	WithdrawLot:       write[LotStatusRequest, LotResult](TxWithdrawLot, RightLotWithdraw),
	ReportScan:        write[ScanRequest, ScanResult](TxReportScan, RightScanReport),
	FlagAnomaly:       write[FlagAnomalyRequest, AnomalyResult](TxFlagAnomaly, RightAnomalyFlag),
	TransitionAnomaly: write[TransitionAnomalyRequest, AnomalyResult](TxTransitionAnomaly, RightAnomalyWorkflow),
	CommentAnomaly:    write[CommentAnomalyRequest, AnomalyResult](TxCommentAnomaly, RightAnomalyRead),
	Verify:            query[VerifyRequest, VerifyResult](TxVerify, RightPackVerify),
	GetProduct:        query[ProductQuery, GetProductResult](TxGetProduct, RightProductRead),
	GetPack:           query[PackQuery, GetPackResult](TxGetPack, RightPackRead),
	GetPackHistory:    query[PackHistoryQuery, PackHistoryResult](TxGetPackHistory, RightPackRead),
	GetLot:            query[LotQuery, GetLotResult](TxGetLot, RightLotRead),
	GetShipment:       query[ShipmentQuery, GetShipmentResult](TxGetShipment, RightShipmentRead),
	GetAnomaly:        query[AnomalyQuery, GetAnomalyResult](TxGetAnomaly, RightAnomalyRead),
	GetRequest:        query[RequestQuery, GetRequestResult](TxGetRequest, RightRequestRead),
	ListAnomalies:     query[ListAnomaliesQuery, ListAnomaliesResult](TxListAnomalies, RightAnomalyRead),
	ListPacksByLot:    query[ListPacksByLotQuery, ListPacksByLotResult](TxListPacksByLot, RightPackRead),
	Route:             query[RouteQuery, RouteResult](TxRoute, RightProductRead),
	InitCollection:    write[InitCollectionRequest, InitCollectionResult](TxInitCollection, RightPackCommission),
}

func write[Req, Res any](name string, r Right) Tx[Req, Res] {
	return Tx[Req, Res]{Name: name, Right: r}
}
func query[Req, Res any](name string, r Right) Tx[Req, Res] {
	return Tx[Req, Res]{Name: name, Query: true, Right: r}
}

// AllTransactions lists every transaction, writes first, in a fixed order.
var AllTransactions = []TxInfo{
	Txs.RegisterProduct.Info(), Txs.InitCollection.Info(), Txs.RegisterLot.Info(), Txs.ReleaseLot.Info(), Txs.CommissionPacks.Info(), Txs.Aggregate.Info(),
	Txs.Ship.Info(), Txs.Receive.Info(), Txs.Dispense.Info(), Txs.Decommission.Info(), Txs.Undo.Info(), Txs.RecallLot.Info(),
	Txs.WithdrawLot.Info(), Txs.ReportScan.Info(), Txs.FlagAnomaly.Info(), Txs.TransitionAnomaly.Info(), Txs.CommentAnomaly.Info(),
	Txs.Verify.Info(), Txs.GetProduct.Info(), Txs.GetPack.Info(), Txs.GetPackHistory.Info(), Txs.GetLot.Info(), Txs.GetShipment.Info(),
	Txs.GetAnomaly.Info(), Txs.GetRequest.Info(), Txs.ListAnomalies.Info(), Txs.ListPacksByLot.Info(), Txs.Route.Info(),
}

// SubmitTransactions are the write transactions (submit through the orderer;
// each commits a request record and emits exactly one event), and
// EvaluateTransactions the queries (evaluate on one peer; they write nothing
// and emit no event). TransactionRights maps each transaction to the right
// it needs (Decommission needs DecommissionRight of the requested reason
// instead). All three derive from AllTransactions.
var (
	SubmitTransactions, EvaluateTransactions = splitTransactions()
	TransactionRights                        = transactionRights()
)

func splitTransactions() (writes, queries []string) {
	for _, t := range AllTransactions {
		if t.Query {
			queries = append(queries, t.Name)
		} else {
			writes = append(writes, t.Name)
		}
	}
	return writes, queries
}

func transactionRights() map[string]Right {
	m := map[string]Right{}
	for _, t := range AllTransactions {
		if t.Right != "" {
			m[t.Name] = t.Right
		}
	}
	return m
}

// txsByName indexes AllTransactions by name (TxByName is on every
// client call's path).
var txsByName = func() map[string]TxInfo {
	m := make(map[string]TxInfo, len(AllTransactions))
	for _, t := range AllTransactions {
		m[t.Name] = t
	}
	return m
}()

// TxByName returns the descriptor of the named transaction.
func TxByName(name string) (TxInfo, bool) {
	t, ok := txsByName[name]
	return t, ok
}

// IsQuery reports whether the named transaction is a query.
func IsQuery(name string) bool {
	t, _ := TxByName(name)
	return t.Query
}
