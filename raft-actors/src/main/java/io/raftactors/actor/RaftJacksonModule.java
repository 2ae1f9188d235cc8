package io.raftactors.actor;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import com.fasterxml.jackson.databind.module.SimpleModule;
import io.raftactors.core.EntryData;
import io.raftactors.core.RaftMessage;

/**
 * Jackson mix-ins that give the core's sealed message and entry types their type ids on the wire.
 * The core stays free of serialization annotations; registered through
 * {@code akka.serialization.jackson.jackson-modules}.
 */
public final class RaftJacksonModule extends SimpleModule {
  private static final long serialVersionUID = 1L;

  public RaftJacksonModule() {
    super("raft-actors");
    setMixInAnnotation(RaftMessage.class, RaftMessageMixin.class);
    setMixInAnnotation(EntryData.class, EntryDataMixin.class);
    setMixInAnnotation(io.raftactors.core.MembershipChange.class, MembershipChangeMixin.class);
  }

  @JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "t")
  @JsonSubTypes({
    @JsonSubTypes.Type(value = RaftMessage.AppendEntries.class, name = "ae"),
    @JsonSubTypes.Type(value = RaftMessage.AppendEntriesResponse.class, name = "aer"),
    @JsonSubTypes.Type(value = RaftMessage.RequestVote.class, name = "rv"),
    @JsonSubTypes.Type(value = RaftMessage.RequestVoteResponse.class, name = "rvr"),
    @JsonSubTypes.Type(value = RaftMessage.PreVote.class, name = "pv"),
    @JsonSubTypes.Type(value = RaftMessage.PreVoteResponse.class, name = "pvr"),
    @JsonSubTypes.Type(value = RaftMessage.InstallSnapshot.class, name = "is"),
    @JsonSubTypes.Type(value = RaftMessage.InstallSnapshotResponse.class, name = "isr"),
    @JsonSubTypes.Type(value = RaftMessage.ReadIndexRequest.class, name = "ri"),
    @JsonSubTypes.Type(value = RaftMessage.ReadIndexResponse.class, name = "rir"),
    @JsonSubTypes.Type(value = RaftMessage.TimeoutNow.class, name = "tn")
  })
  interface RaftMessageMixin {}

  @JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "t")
  @JsonSubTypes({
    @JsonSubTypes.Type(value = EntryData.Command.class, name = "c"),
    @JsonSubTypes.Type(value = EntryData.Noop.class, name = "n"),
    @JsonSubTypes.Type(value = EntryData.Configuration.class, name = "cfg"),
    @JsonSubTypes.Type(value = EntryData.OpenSession.class, name = "so"),
    @JsonSubTypes.Type(value = EntryData.KeepAlive.class, name = "sa"),
    @JsonSubTypes.Type(value = EntryData.SessionCommand.class, name = "sc"),
    @JsonSubTypes.Type(value = EntryData.KeyedCommand.class, name = "sk")
  })
  interface EntryDataMixin {}

  @JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "t")
  @JsonSubTypes({
    @JsonSubTypes.Type(value = io.raftactors.core.MembershipChange.AddVoter.class, name = "voter"),
    @JsonSubTypes.Type(value = io.raftactors.core.MembershipChange.AddLearner.class, name = "learner"),
    @JsonSubTypes.Type(value = io.raftactors.core.MembershipChange.Promote.class, name = "promote"),
    @JsonSubTypes.Type(value = io.raftactors.core.MembershipChange.Remove.class, name = "remove")
  })
  interface MembershipChangeMixin {}
}
