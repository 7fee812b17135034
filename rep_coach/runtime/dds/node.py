"""``Node`` and its publishers, subscriptions and timers, with rclpy's names and signatures."""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from cyclonedds._clayer import ddspy_take
from cyclonedds.core import InstanceState, ReadCondition, SampleState, ViewState
from cyclonedds.pub import DataWriter
from cyclonedds.sub import DataReader
from cyclonedds.topic import Topic

from rep_coach import ros_names as names
from rep_coach.ros_args import parse_ros_args, RosArgs

from .clock import Clock, ClockType
from .context import Context, get_default_context
from .logging import RcutilsLogger
from .params import InvalidParameterTypeException, Parameter, ParameterAlreadyDeclaredException
from .params import ParameterDescriptor, ParameterNotDeclaredException, resolve_overrides
from .participant import delete_entity, get_participant, Participant
from .qos import as_profile, QoSProfile, to_dds_qos


class RCLError(RuntimeError):
    """A failed middleware call, named as rclpy names it (``rclpy._rclpy_pybind11.RCLError``)."""


def _check_msg_type(msg_type: Any) -> None:
    if not (isinstance(msg_type, type) and hasattr(msg_type, '_type_hash')):
        raise TypeError(f'{msg_type!r} is not a message class from rep_coach.runtime.msg')


class Publisher:
    """Publishes messages of one type on one topic."""

    def __init__(self, node: 'Node', msg_type: type, topic_name: str, qos_profile: QoSProfile,
                 topic: Topic, writer: DataWriter) -> None:
        self.msg_type = msg_type
        self.topic_name = topic_name
        self.qos_profile = qos_profile
        self._node = node
        self._topic = topic
        self._writer: Optional[DataWriter] = writer

    @property
    def topic(self) -> str:
        """Return the resolved topic name."""
        return self.topic_name

    def publish(self, msg: Any) -> None:
        """Send ``msg``; raises TypeError for a message of another type (as rclpy)."""
        if not isinstance(msg, self.msg_type):
            raise TypeError(f'Expected {self.msg_type.__name__}, got {type(msg).__name__}')
        if self._writer is None:
            raise RuntimeError(f'publisher on {self.topic_name} was destroyed')
        if not self._node.context.ok():
            # As rcl: after Ctrl-C (or rclpy.shutdown) the context is gone before a node's
            # shutdown code runs, and a publish there fails.  Raised here too, so code that
            # publishes at shutdown is tested against what ROS 2 does.
            raise RCLError("Failed to publish: publisher's context is invalid")
        self._writer.write(msg)

    def get_subscription_count(self) -> int:
        """Return how many subscriptions are matched (QoS compatible) with this publisher."""
        if self._writer is None:
            return 0
        return int(self._writer.get_publication_matched_status().current_count)

    def wait_for_all_acked(self, timeout: Any = None) -> bool:
        """Block until reliable readers acknowledged everything (``timeout``: Duration/sec)."""
        if self._writer is None:
            return False
        seconds = getattr(timeout, 'nanoseconds', None)
        seconds = seconds / 1e9 if seconds is not None else (timeout if timeout else 3600.0)
        return bool(self._writer.wait_for_acks(int(float(seconds) * 1e9)))

    def destroy(self) -> bool:
        """Destroy via the node (as rclpy)."""
        return self._node.destroy_publisher(self)

    def _delete(self) -> None:
        delete_entity(self._writer)
        delete_entity(self._topic)
        self._writer = None


#: Every sample in a reader cache, whatever its state (what ``take`` takes).
_ANY_STATE = SampleState.Any | ViewState.Any | InstanceState.Any


class Subscription:
    """
    Delivers messages of one type from one topic to a callback, on the executor thread.

    With ``raw`` (as rclpy's ``create_subscription(..., raw=True)``) the callback gets the
    serialized message, ``bytes`` starting with the 4-byte CDR encapsulation header, and
    nothing is deserialized.
    """

    def __init__(self, node: 'Node', msg_type: type, topic_name: str, callback: Callable,
                 qos_profile: QoSProfile, topic: Topic, reader: DataReader,
                 raw: bool = False) -> None:
        self.msg_type = msg_type
        self.topic_name = topic_name
        self.callback = callback
        self.qos_profile = qos_profile
        self.raw = raw
        self._node = node
        self._topic = topic
        self._reader: Optional[DataReader] = reader
        self._bad_samples = 0
        # Triggers while any sample is in the reader cache; the executor waits on it.
        self.condition = ReadCondition(reader, _ANY_STATE)

    @property
    def topic(self) -> str:
        """Return the resolved topic name."""
        return self.topic_name

    def has_data(self) -> bool:
        """Return whether the reader holds samples (its read condition is triggered)."""
        return self._reader is not None and bool(self.condition.triggered)

    def take(self, limit: int) -> List[Any]:
        """
        Take up to ``limit`` valid samples (drops unregister/dispose notifications).

        Calls the C layer directly rather than ``DataReader.take``, which deserializes the
        key of every invalid sample and cannot hand out raw bytes.  A sample that does not
        deserialize (a foreign writer's bad data) is dropped and logged, not raised: it
        would otherwise end the spin of every node on the executor.
        """
        if self._reader is None:
            return []
        taken = ddspy_take(self._reader._ref, _ANY_STATE, limit)
        if isinstance(taken, int):    # a DDS return code: the reader is gone
            return []
        if self.raw:
            return [data for data, info in taken if info.valid_data]
        deserialize = self.msg_type.deserialize
        out = []
        for data, info in taken:
            if not info.valid_data:
                continue
            try:
                out.append(deserialize(data))
            except Exception as exc:  # noqa: B902 - any decoding failure drops one sample
                self._bad_samples += 1
                if self._bad_samples == 1 or self._bad_samples % 100 == 0:
                    self._node.get_logger().error(
                        f'{self.topic_name}: dropped a sample that does not deserialize as '
                        f'{self.msg_type.__name__} ({type(exc).__name__}: {exc}); '
                        f'{self._bad_samples} so far')
        return out

    def get_publisher_count(self) -> int:
        """Return how many publishers are matched with this subscription."""
        if self._reader is None:
            return 0
        return int(self._reader.get_subscription_matched_status().current_count)

    def destroy(self) -> bool:
        """Destroy via the node (as rclpy)."""
        return self._node.destroy_subscription(self)

    def _delete(self) -> None:
        delete_entity(self.condition)
        delete_entity(self._reader)
        delete_entity(self._topic)
        self._reader = None


class Timer:
    """Calls a callback every ``timer_period_ns`` (monotonic clock), on the executor thread."""

    def __init__(self, node: 'Node', timer_period_sec: float, callback: Callable,
                 autostart: bool = True) -> None:
        if timer_period_sec < 0:
            raise ValueError(f'timer period must be >= 0, got {timer_period_sec}')
        self.callback = callback
        self.timer_period_ns = int(timer_period_sec * 1e9)
        self._node = node
        self._canceled = not autostart
        self._next_call_ns = time.monotonic_ns() + self.timer_period_ns

    def cancel(self) -> None:
        """Stop the timer until ``reset``."""
        self._canceled = True

    def is_canceled(self) -> bool:
        """Return whether the timer is cancelled."""
        return self._canceled

    def reset(self) -> None:
        """Restart a full period from now."""
        self._canceled = False
        self._next_call_ns = time.monotonic_ns() + self.timer_period_ns
        self._node._wake_executor()

    def time_until_next_call(self) -> Optional[int]:
        """Return nanoseconds until the next call (None when cancelled)."""
        if self._canceled:
            return None
        return self._next_call_ns - time.monotonic_ns()

    def is_ready(self) -> bool:
        """Return whether the timer is due."""
        return not self._canceled and time.monotonic_ns() >= self._next_call_ns

    def _advance(self, now_ns: int) -> None:
        # As rcl: keep the phase; if calls were missed, skip them instead of bursting.
        period = max(self.timer_period_ns, 1)
        self._next_call_ns += period
        if self._next_call_ns <= now_ns:
            behind = now_ns - self._next_call_ns
            self._next_call_ns += (behind // period + 1) * period

    def destroy(self) -> bool:
        """Destroy via the node (as rclpy)."""
        return self._node.destroy_timer(self)


class Node:
    """A ROS node on the Cyclone DDS runtime (the rclpy.node.Node subset rep_coach uses)."""

    def __init__(self, node_name: str, *, context: Optional[Context] = None,
                 cli_args: Optional[Sequence[str]] = None, namespace: Optional[str] = None,
                 use_global_arguments: bool = True, enable_rosout: bool = True,
                 start_parameter_services: bool = True,
                 parameter_overrides: Optional[List[Parameter]] = None,
                 allow_undeclared_parameters: bool = False,
                 automatically_declare_parameters_from_overrides: bool = False) -> None:
        self._context = context or get_default_context()
        if not self._context.ok():
            raise RuntimeError('rclpy.init() has not been called (or the context was shut '
                               'down); cannot create a node')
        local = parse_ros_args(['node'] + list(cli_args or []))
        global_args = self._context.args if use_global_arguments else RosArgs()
        # As rcl: node-local rules are consulted before global ones.
        self._remaps = local.remaps + global_args.remaps
        name = names.validate_node_name(node_name)
        ns = names.normalize_namespace(namespace)
        self._name, self._namespace = names.remapped_node_identity(name, ns, self._remaps)
        self._fqn = names.fully_qualified_name(self._namespace, self._name)
        logger_name = (self._namespace.strip('/').replace('/', '.') + '.' + self._name).lstrip('.')
        self._logger = RcutilsLogger(logger_name)
        self._clock = Clock(clock_type=ClockType.ROS_TIME)

        overrides = resolve_overrides(global_args.param_sources + local.param_sources, self._fqn)
        for param in parameter_overrides or []:
            overrides[param.name] = param.value
        self._overrides: Dict[str, Any] = overrides
        self._parameters: Dict[str, Parameter] = {}
        self._descriptors: Dict[str, ParameterDescriptor] = {}
        self._allow_undeclared = allow_undeclared_parameters

        self._participant: Participant = get_participant(self._context.domain_id)
        self._publishers: List[Publisher] = []
        self._subscriptions: List[Subscription] = []
        self._timers: List[Timer] = []
        self._executor: Any = None
        self._destroyed = False
        if automatically_declare_parameters_from_overrides:
            for pname, value in overrides.items():
                self.declare_parameter(pname, value)
        from .graph import announce_node

        announce_node(self)

    # -- identity -----------------------------------------------------------------------------
    def get_name(self) -> str:
        """Return the node name (after ``__node`` remapping)."""
        return self._name

    def get_namespace(self) -> str:
        """Return the namespace (after ``__ns`` remapping)."""
        return self._namespace

    def get_fully_qualified_name(self) -> str:
        """Return ``<namespace>/<name>``."""
        return self._fqn

    def get_logger(self) -> RcutilsLogger:
        """Return the node's logger (named ``ns.node``)."""
        return self._logger

    def get_clock(self) -> Clock:
        """Return the node clock (system time)."""
        return self._clock

    @property
    def context(self) -> Context:
        """Return the context."""
        return self._context

    @property
    def executor(self) -> Any:
        """Return the executor the node was added to, if any."""
        return self._executor

    @property
    def publishers(self) -> List[Publisher]:
        """Return the node's publishers."""
        return list(self._publishers)

    @property
    def subscriptions(self) -> List[Subscription]:
        """Return the node's subscriptions."""
        return list(self._subscriptions)

    @property
    def timers(self) -> List[Timer]:
        """Return the node's timers."""
        return list(self._timers)

    def resolve_topic_name(self, topic: str, *, only_expand: bool = False) -> str:
        """Expand (and unless ``only_expand`` remap) a topic name for this node."""
        expanded = names.expand_topic_name(topic, self._name, self._namespace)
        if only_expand:
            return expanded
        return names.remap_topic_name(expanded, self._name, self._namespace, self._remaps)

    # -- parameters ---------------------------------------------------------------------------
    def declare_parameter(self, name: str, value: Any = None,
                          descriptor: Optional[ParameterDescriptor] = None,
                          ignore_override: bool = False) -> Parameter:
        """Declare a parameter; an override of a different type raises (as rclpy)."""
        if name in self._parameters:
            raise ParameterAlreadyDeclaredException([name])
        descriptor = descriptor or ParameterDescriptor()
        if isinstance(value, Parameter.Type):
            declared_type, default = value, None
        else:
            declared_type, default = Parameter.Type.from_parameter_value(value), value
        final = default
        if not ignore_override and name in self._overrides:
            final = self._overrides[name]
        param = Parameter(name, value=final)
        dynamic = bool(getattr(descriptor, 'dynamic_typing', False))
        if (not dynamic and declared_type is not Parameter.Type.NOT_SET
                and param.type_ is not declared_type):
            raise InvalidParameterTypeException(param, declared_type)
        self._parameters[name] = param
        self._descriptors[name] = descriptor
        return param

    def declare_parameters(self, namespace: str,
                           parameters: List[Union[Tuple[str], Tuple[str, Any],
                                                  Tuple[str, Any, ParameterDescriptor]]],
                           ignore_override: bool = False) -> List[Parameter]:
        """Declare several parameters ``(name[, value[, descriptor]])`` under ``namespace``."""
        out = []
        for entry in parameters:
            pname = f'{namespace}.{entry[0]}' if namespace else entry[0]
            value = entry[1] if len(entry) > 1 else None
            descriptor = entry[2] if len(entry) > 2 else None
            out.append(self.declare_parameter(pname, value, descriptor, ignore_override))
        return out

    def has_parameter(self, name: str) -> bool:
        """Return whether ``name`` was declared."""
        return name in self._parameters

    def get_parameter(self, name: str) -> Parameter:
        """Return a declared parameter."""
        if name in self._parameters:
            return self._parameters[name]
        if self._allow_undeclared:
            return Parameter(name, Parameter.Type.NOT_SET, None)
        raise ParameterNotDeclaredException([name])

    def get_parameters(self, names_: List[str]) -> List[Parameter]:
        """Return several declared parameters."""
        return [self.get_parameter(n) for n in names_]

    def get_parameter_or(self, name: str, alternative_value: Optional[Parameter] = None
                         ) -> Parameter:
        """Return the parameter or ``alternative_value`` when undeclared."""
        if name in self._parameters:
            return self._parameters[name]
        return alternative_value if alternative_value is not None else Parameter(name)

    def set_parameters(self, parameter_list: List[Parameter]) -> List[bool]:
        """Set declared parameters, enforcing their types (results are plain booleans)."""
        results = []
        for param in parameter_list:
            current = self._parameters.get(param.name)
            if current is None and not self._allow_undeclared:
                raise ParameterNotDeclaredException([param.name])
            descriptor = self._descriptors.get(param.name, ParameterDescriptor())
            if descriptor.read_only:
                results.append(False)
                continue
            if (current is not None and not descriptor.dynamic_typing
                    and current.type_ is not Parameter.Type.NOT_SET
                    and param.type_ is not current.type_):
                raise InvalidParameterTypeException(param, current.type_)
            self._parameters[param.name] = param
            results.append(True)
        return results

    # -- entities -----------------------------------------------------------------------------
    def _make_topic(self, msg_type: type, topic: str) -> Tuple[str, Topic]:
        _check_msg_type(msg_type)
        resolved = self.resolve_topic_name(topic)
        return resolved, Topic(self._participant.dp, names.dds_topic_name(resolved), msg_type)

    def create_publisher(self, msg_type: type, topic: str, qos_profile: Union[QoSProfile, int],
                         **_kwargs: Any) -> Publisher:
        """Create a publisher; ``qos_profile`` may be an int depth (as rclpy)."""
        profile = as_profile(qos_profile)
        resolved, dds_topic = self._make_topic(msg_type, topic)
        writer = DataWriter(self._participant.dp, dds_topic,
                            to_dds_qos(profile, msg_type._type_hash))
        publisher = Publisher(self, msg_type, resolved, profile, dds_topic, writer)
        self._publishers.append(publisher)
        self._graph_changed()
        return publisher

    def create_subscription(self, msg_type: type, topic: str, callback: Callable[[Any], None],
                            qos_profile: Union[QoSProfile, int], *, raw: bool = False,
                            **_kwargs: Any) -> Subscription:
        """
        Create a subscription whose callback runs on the spinning thread.

        ``raw=True`` (rclpy API) passes the serialized message (``bytes``) to the callback.
        """
        profile = as_profile(qos_profile)
        resolved, dds_topic = self._make_topic(msg_type, topic)
        reader = DataReader(self._participant.dp, dds_topic,
                            to_dds_qos(profile, msg_type._type_hash))
        subscription = Subscription(self, msg_type, resolved, callback, profile, dds_topic,
                                    reader, raw=raw)
        self._subscriptions.append(subscription)
        self._graph_changed()
        self._entities_changed()
        return subscription

    def create_timer(self, timer_period_sec: float, callback: Callable[[], None],
                     callback_group: Any = None, clock: Any = None,
                     autostart: bool = True) -> Timer:
        """Create a timer; the first call is one period from now."""
        timer = Timer(self, timer_period_sec, callback, autostart)
        self._timers.append(timer)
        self._entities_changed()
        return timer

    def destroy_publisher(self, publisher: Publisher) -> bool:
        """Destroy a publisher of this node."""
        if publisher not in self._publishers:
            return False
        self._publishers.remove(publisher)
        publisher._delete()
        self._graph_changed()
        return True

    def destroy_subscription(self, subscription: Subscription) -> bool:
        """Destroy a subscription of this node."""
        if subscription not in self._subscriptions:
            return False
        self._subscriptions.remove(subscription)
        if self._executor is not None:
            self._executor._forget_subscription(subscription)
        subscription._delete()
        self._entities_changed()
        self._graph_changed()
        return True

    def destroy_timer(self, timer: Timer) -> bool:
        """Destroy a timer of this node."""
        if timer not in self._timers:
            return False
        timer.cancel()
        self._timers.remove(timer)
        self._entities_changed()
        return True

    def count_publishers(self, topic_name: str) -> int:
        """Return the number of publishers on a topic (whole domain)."""
        return self._participant.count_publishers(
            names.dds_topic_name(self.resolve_topic_name(topic_name)))

    def count_subscribers(self, topic_name: str) -> int:
        """Return the number of subscriptions on a topic (whole domain)."""
        return self._participant.count_subscribers(
            names.dds_topic_name(self.resolve_topic_name(topic_name)))

    def destroy_node(self) -> None:
        """Destroy every entity of the node; safe to call twice."""
        if self._destroyed:
            return
        if self._executor is not None:
            self._executor.remove_node(self)
        for subscription in list(self._subscriptions):
            self.destroy_subscription(subscription)
        for publisher in list(self._publishers):
            self.destroy_publisher(publisher)
        for timer in list(self._timers):
            self.destroy_timer(timer)
        self._destroyed = True
        from .graph import withdraw_node

        withdraw_node(self)

    # -- internal -----------------------------------------------------------------------------
    def _wake_executor(self) -> None:
        if self._executor is not None:
            self._executor.wake()

    def _entities_changed(self) -> None:
        """Tell the executor that the set of subscriptions or timers changed."""
        if self._executor is not None:
            self._executor.entities_changed()

    def _graph_changed(self) -> None:
        from .graph import announce_node

        if not self._destroyed:
            announce_node(self)
