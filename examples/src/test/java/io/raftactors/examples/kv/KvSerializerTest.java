package io.raftactors.examples.kv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.Behaviors;
import akka.serialization.Serialization;
import akka.serialization.SerializationExtension;
import akka.serialization.Serializer;
import akka.serialization.Serializers;
import com.typesafe.config.ConfigFactory;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The KV store's messages in their binary form, and commands journaled in CBOR before it existed. */
class KvSerializerTest {
  private static ActorSystem<Void> system;
  private static Serialization ser;

  @BeforeAll
  static void start() {
    system = ActorSystem.create(Behaviors.empty(), "kv-serializer",
        ConfigFactory.parseString("akka.loglevel = WARNING\nakka.actor.provider = local").withFallback(ConfigFactory.load()));
    ser = SerializationExtension.get(system.classicSystem());
  }

  @AfterAll
  static void stop() {
    system.terminate();
  }

  @Test
  void everyKvMessageRoundTripsInItsBinaryForm() {
    List<Object> all = List.of(new KvCommand.Put("k", "v"), new KvCommand.Put("ключ", "värde ✓"), new KvCommand.Delete("k"),
        new KvCommand.Cas("k", null, "v"), new KvCommand.Cas("k", "a", "b"), new KvCommand.CasResult(true, "b"),
        new KvCommand.CasResult(false, null), new KvCommand.Get("k"), new KvCommand.Put("", ""));
    for (Object m : all) {
      Serializer s = ser.findSerializerFor(m);
      assertEquals(KvSerializer.class, s.getClass(), m.toString());
      Object back = ser.deserialize(s.toBinary(m), s.identifier(), Serializers.manifestFor(s, m)).get();
      assertEquals(m, back);
    }
  }

  @Test
  void aCommandJournaledInCborStillReads() throws Exception {
    KvCommand.Put put = new KvCommand.Put("k", "v");
    Serializer cbor = ser.serializerByIdentity().apply(33); // Akka's jackson-cbor, which the KV store used before
    byte[] old = cbor.toBinary(put);
    assertEquals(put, ser.deserialize(old, 33, KvCommand.Put.class.getName()).get());
  }

  @Test
  void aCorruptKvMessageIsRefused() {
    byte[] ok = ser.serialize(new KvCommand.Put("key", "value")).get();
    assertTrue(ser.deserialize(java.util.Arrays.copyOf(ok, ok.length - 1), KvSerializer.IDENTIFIER, "P").isFailure());
    assertTrue(ser.deserialize(java.util.Arrays.copyOf(ok, ok.length + 1), KvSerializer.IDENTIFIER, "P").isFailure());
    assertTrue(ser.deserialize(ok, KvSerializer.IDENTIFIER, "Z").isFailure());
  }
}
